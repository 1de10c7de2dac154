"""`ProxyWebClient`: the seed's small client (`get_page`, `shutdown`) on `ProxyAgent`."""

from __future__ import annotations

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web import client, http_headers

from lab.proxy.agent import ProxyAgent
from lab.proxy.challenges import Credentials
from lab.proxy.errors import OriginError, RequestTimeoutError, translate

DEFAULT_TIMEOUT = 30.0


class ProxyWebClient:
    """Fetch pages through a proxy; names and call shapes of the seed's client.

    `proxy_url` is the proxy's host (the seed's name for it), `proxy_port` its
    port. Credentials are used when the proxy asks (407) and then sent
    pre-emptively. `trust_root` (e.g. `ssl.Certificate.loadPEM(...)`) verifies
    a self-signed origin over HTTPS.

    `agent` replaces the `ProxyAgent` with any agent that has `close()`: a
    `SOCKSAgent`, or a `PACAgent` that picks the proxy per URL (see `from_pac`).
    """

    def __init__(self, proxy_url=None, proxy_port=None, username=None, password=None, *,
                 proxy_address=None, trust_root=None, reactor=None, agent=None):
        if reactor is None:
            from twisted.internet import reactor
        self.proxy_url = proxy_url
        self.proxy_port = proxy_port
        self.username = username
        self._reactor = reactor
        if agent is None:
            credentials = Credentials(username, password) if username is not None else None
            agent = ProxyAgent(reactor, proxy_url, proxy_port, credentials,
                               proxy_address=proxy_address, trust_root=trust_root)
        self.agent = agent
        self._name = (f"{proxy_url}:{proxy_port}" if proxy_url is not None
                      else getattr(agent, "name", repr(agent)))
        self._in_flight: set[defer.Deferred] = set()

    @classmethod
    async def from_pac(cls, pac_url: str, username=None, password=None, *, trust_root=None,
                       reactor=None, **agent_options) -> ProxyWebClient:
        """A client that fetches the PAC file at `pac_url` once (directly, never through
        a proxy) and then takes each URL's proxy from it (`lab.proxy.pac.PACAgent`;
        needs the `pac` extra). `agent_options` go to `PACAgent`."""
        if reactor is None:
            from twisted.internet import reactor
        from lab.proxy.pac import fetch_pac
        from lab.proxy.pacagent import PACAgent

        credentials = Credentials(username, password) if username is not None else None
        pac = await fetch_pac(reactor, pac_url, trust_root=trust_root)
        agent = PACAgent(reactor, pac, credentials, trust_root=trust_root, **agent_options)
        client = cls(reactor=reactor, agent=agent)
        client.username = username
        return client

    def __repr__(self) -> str:
        return f"ProxyWebClient({self._name}, username={self.username!r})"

    def request(self, url, method=b"GET", headers=None, timeout=DEFAULT_TIMEOUT,
                follow_redirects=True) -> defer.Deferred:
        """Fires with (response, body): any status, the body read in full."""
        if isinstance(url, str):
            url = url.encode()
        agent = client.BrowserLikeRedirectAgent(self.agent) if follow_redirects else self.agent
        hdrs = http_headers.Headers(headers or {})

        async def fetch():
            response = await agent.request(method, url, hdrs)
            try:
                return response, await client.readBody(response)
            except Exception as exc:   # the body cut short: a lab.proxy error too
                raise translate(exc, self._name, f"reading {url.decode()}") from None

        d = defer.ensureDeferred(fetch())
        self._in_flight.add(d)
        # Our own timer, not addTimeout(): a cancelled request fails with whatever
        # the agent raises (ResponseNeverReceived, ...), which we then replace.
        timer = self._reactor.callLater(timeout, d.cancel)

        def done(result):
            self._in_flight.discard(d)
            if timer.active():
                timer.cancel()
            elif isinstance(result, Failure) and result.check(defer.CancelledError):
                raise RequestTimeoutError(
                    f"no complete response for {url.decode()} through proxy "
                    f"{self._name} within {timeout} s")
            return result

        return d.addBoth(done)

    def get_page(self, url, timeout=DEFAULT_TIMEOUT) -> defer.Deferred:
        """Fires with the body (bytes); an origin error status fails with `OriginError`,
        a proxy refusal with a `ProxyError` (both `twisted.web.error.Error`)."""
        url_text = url.decode() if isinstance(url, bytes) else url

        def check(result):
            response, body = result
            if response.code >= 400:
                raise OriginError(response.code, url_text, body)
            return body

        return self.request(url, timeout=timeout).addCallback(check)

    def shutdown(self) -> defer.Deferred:
        """Cancel requests in flight and close every kept-alive connection; fires when
        they are all gone, so the reactor is clean (including squid's keep-alive)."""
        for d in list(self._in_flight):
            d.cancel()
        return self.agent.close()
