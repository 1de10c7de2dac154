"""A proxy per URL from a PAC file, evaluated by pypac (the `pac` extra:
`pip install 'corplab[pac]'`); we run no JavaScript of our own.

`fetch_pac()` gets the PAC file once, directly (never through a proxy, as
browsers do), and `PAC.routes(url)` asks it for each request: `DIRECT`,
`PROXY host:port` (an HTTP proxy, `ProxyAgent`) or `SOCKS5 host:port`
(`SOCKSAgent`; `SOCKS` means SOCKS5 here, as in pypac). Routes we cannot take
(`HTTPS`, `SOCKS4`) are skipped; a PAC that names none we can take, fails to
run or cannot be fetched is a `PACError`. `PACAgent` (lab.proxy.pacagent)
tries the routes in order.

Evaluation is synchronous (dukpy) and one at a time (one interpreter per PAC);
`PACAgent` runs it in the reactor's thread pool, as a PAC's `dnsResolve()` blocks
(the lab's own asks the DC's name, for names of the lab domain: `lab.stack.pac_file`).
"""

from __future__ import annotations

import threading
import urllib.parse
import warnings
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.web import client, http_headers, iweb
from zope.interface import implementer

from lab.proxy.errors import PACError, translate
from lab.proxy.trust import VerifyingCreator

_KINDS = {"http": "PROXY", "socks5": "SOCKS5"}


@dataclass(frozen=True)
class Route:
    """One entry of a PAC answer: `kind` is DIRECT, PROXY or SOCKS5."""

    kind: str
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return self.kind if self.kind == "DIRECT" else f"{self.kind} {self.host}:{self.port}"


DIRECT = Route("DIRECT")


def parse_routes(value: str) -> list[Route]:
    """The routes we can take in a `FindProxyForURL` answer, in order (read with pypac's
    own `parse_pac_value`, so the answer's syntax is the engine's, not ours)."""
    from pypac.parser import parse_pac_value

    routes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # pypac warns about entries it drops
        parsed = parse_pac_value(value or "")
    for entry in parsed:
        if entry == "DIRECT":
            routes.append(DIRECT)
            continue
        url = urllib.parse.urlsplit(entry)
        if url.scheme in _KINDS and url.hostname and url.port:
            routes.append(Route(_KINDS[url.scheme], url.hostname, url.port))
    return routes


class PAC:
    """A PAC file's `FindProxyForURL`, run by pypac; `source` names it in messages."""

    def __init__(self, text: str, source: str = "the PAC file"):
        try:
            from pypac.parser import MalformedPacError, PACFile
        except ImportError:
            raise PACError("evaluating a PAC file needs pypac: "
                           "pip install 'corplab[pac]'") from None
        self.source = source
        self._running = threading.Lock()
        try:
            self._pac = PACFile(text)
        except MalformedPacError as exc:
            raise PACError(f"{source} does not run: {exc}") from None

    def routes(self, url: str | bytes) -> list[Route]:
        """Where to send `url`, in the order to try; never empty (else `PACError`)."""
        if isinstance(url, bytes):
            url = url.decode("latin-1")
        host = urllib.parse.urlsplit(url).hostname or ""
        try:
            with self._running:
                value = self._pac.find_proxy_for_url(url, host)
        except Exception as exc:     # dukpy's JSRuntimeError: a bug in the PAC
            raise PACError(f"{self.source} failed for {url}: {exc}") from None
        routes = parse_routes(value)
        if not routes:
            raise PACError(f"{self.source} names no route we can take for {url}: {value!r} "
                           "(we take DIRECT, PROXY and SOCKS5)")
        return routes


@implementer(iweb.IPolicyForHTTPS)
class HTTPSPolicy:
    """`BrowserLikePolicyForHTTPS`, with TLS options that explain a refused certificate
    (`creators` keeps them per host, for `lab.proxy.trust.explain`)."""

    def __init__(self, trust_root=None):
        self._trust_root = trust_root
        self.creators: dict[str, VerifyingCreator] = {}

    def creatorForNetloc(self, hostname: bytes, port: int) -> VerifyingCreator:
        host = hostname.decode("idna")
        if host not in self.creators:
            self.creators[host] = VerifyingCreator(host, self._trust_root)
        return self.creators[host]


async def fetch_pac(reactor, url: str, *, trust_root=None, timeout: float = 10.0) -> PAC:
    """Fetch the PAC file at `url` directly and load it; `PACError` if that fails."""
    agent = client.Agent(reactor, contextFactory=HTTPSPolicy(trust_root),
                         pool=client.HTTPConnectionPool(reactor, persistent=False))
    headers = http_headers.Headers({b"accept": [b"application/x-ns-proxy-autoconfig, */*"]})

    async def get() -> tuple[int, bytes]:
        response = await agent.request(b"GET", url.encode(), headers)
        return response.code, await client.readBody(response)

    fetching = defer.ensureDeferred(get())
    # Our own timer, not addTimeout(): a cancelled request fails with whatever the
    # agent raises (ResponseNeverReceived, ...), not always CancelledError.
    timer = reactor.callLater(timeout, fetching.cancel)
    try:
        code, body = await fetching
    except Exception as exc:
        if not timer.active():
            raise PACError(f"no PAC file from {url} within {timeout} s") from None
        if isinstance(exc, net_error.ConnectError | net_error.DNSLookupError):
            raise PACError(f"cannot fetch the PAC file {url}: nothing answers there "
                           f"({type(exc).__name__})") from None
        raise PACError(f"cannot fetch the PAC file {url}: "
                       f"{translate(exc, 'DIRECT', 'GET ' + url)}") from None
    finally:
        if timer.active():
            timer.cancel()
    if code != 200:
        raise PACError(f"the PAC file {url} answered {code}")
    return PAC(body.decode("utf-8", "replace"), source=f"the PAC file {url}")
