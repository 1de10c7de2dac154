"""`proxy_from_environment(url)`: the proxy a URL should use, as urllib would decide.

Precedence and matching are those of `urllib.request` (lower-case variables win
over upper-case; `HTTP_PROXY` is ignored under CGI; `no_proxy` matches host
suffixes and `*`), delegated to its own functions so the rules cannot drift.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from unittest import mock


@dataclass(frozen=True)
class ProxySettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    scheme: str = "http"


def _decide(hostname: str, scheme: str) -> tuple[str | None, bool]:
    proxies = urllib.request.getproxies_environment()
    bypass = bool(proxies) and urllib.request.proxy_bypass_environment(hostname, proxies)
    return proxies.get(scheme), bypass


def proxy_from_environment(url: str | bytes, environ=None) -> ProxySettings | None:
    """The proxy for `url` per http(s)_proxy / no_proxy (and upper-case), or None."""
    if isinstance(url, bytes):
        url = url.decode()
    parsed = urllib.parse.urlsplit(url)
    if environ is None:
        proxy, bypass = _decide(parsed.hostname or "", parsed.scheme)
    else:   # urllib reads os.environ only: show it the given mapping for this call
        with mock.patch.dict(os.environ, environ, clear=True):
            proxy, bypass = _decide(parsed.hostname or "", parsed.scheme)
    if bypass or not proxy:
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    p = urllib.parse.urlsplit(proxy)
    if not p.hostname:
        raise ValueError(f"{parsed.scheme}_proxy has no host: {proxy.split('@')[-1]!r}")
    return ProxySettings(
        host=p.hostname, port=p.port or (443 if p.scheme == "https" else 80),
        username=urllib.parse.unquote(p.username) if p.username else None,
        password=urllib.parse.unquote(p.password) if p.password is not None else None,
        scheme=p.scheme)
