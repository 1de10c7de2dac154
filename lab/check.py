"""A quick end-to-end proof that a running lab works, for `lab check` / `make lab-up`.

Uses clients independent of ours (the standard library's urllib for the
proxy, dnspython for DNS), so a bug in lab.proxy cannot hide a broken lab.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import dns.resolver

from lab.mockweb import SAMPLE_RESOURCE, SIMPLERESOURCE


def fetch_via_proxy(proxy: dict, url: str, username: str | None = None,
                    password: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of GET `url` through the proxy at proxy['host']:proxy['port']."""
    proxy_url = f"http://{proxy['host']}:{proxy['port']}"
    handlers: list = [urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url})]
    if username is not None:
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, proxy_url, username, password)
        handlers.append(urllib.request.ProxyBasicAuthHandler(manager))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def srv_targets(endpoints: dict, name: str) -> list[tuple[str, int]]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [endpoints["dns"]["host"]]
    resolver.port = endpoints["dns"]["port"]
    answer = resolver.resolve(f"{name}.{endpoints['dc']['domain']}", "SRV", lifetime=5)
    return sorted((str(r.target).rstrip("."), r.port) for r in answer)


def run_checks(endpoints: dict) -> list[tuple[str, bool, str]]:
    """(what, ok, detail) for each check; never raises for a failed check."""
    url = endpoints["web"]["proxy_url"] + SIMPLERESOURCE
    results = []
    for name, proxy in endpoints["proxy"].items():
        what = f"GET {url} via proxy {name}"
        try:
            status, body = fetch_via_proxy(proxy, url, proxy.get("username"),
                                           proxy.get("password"))
            ok = status == 200 and body == SAMPLE_RESOURCE
            results.append((what, ok, f"HTTP {status}"))
        except OSError as exc:
            results.append((what, False, str(exc)))
    for record in ("_ldap._tcp", "_kerberos._tcp", "_kpasswd._tcp"):
        what = f"DNS SRV {record}.{endpoints['dc']['domain']}"
        try:
            targets = srv_targets(endpoints, record)
            ok = any(t == endpoints["dc"]["hostname"] for t, _ in targets)
            results.append((what, ok, ", ".join(f"{t}:{p}" for t, p in targets)))
        except dns.exception.DNSException as exc:
            results.append((what, False, f"{type(exc).__name__}: {exc}"))
    return results
