"""`PACAgent`: an `IAgent` that takes each request's proxy from a PAC file, as a
browser does: evaluate per request, then try the routes in the order given.

A route is left for the next only when nothing answers there
(`ProxyUnreachableError`: refused, unresolvable or timed-out connection),
as browsers fail over; any other failure (a 407, a 403, an untrusted
certificate, an origin's 404) is the answer and is raised as is. One agent
per route is kept, so keep-alive and learned authentication carry over
between requests that the PAC sends the same way.
"""

from __future__ import annotations

from collections import deque

from twisted.internet import defer, threads
from twisted.internet import error as net_error
from twisted.web import client, iweb
from zope.interface import implementer

from lab.proxy.agent import ProxyAgent
from lab.proxy.challenges import Credentials
from lab.proxy.errors import ProxyUnreachableError
from lab.proxy.pac import PAC, HTTPSPolicy, Route
from lab.proxy.socksagent import SOCKSAgent
from lab.proxy.trust import request_error

_SAME = object()


@implementer(iweb.IAgent)
class DirectAgent:
    """No proxy (a PAC's `DIRECT`): Twisted's `Agent` with keep-alive and verified TLS,
    failing with `lab.proxy` errors like the proxy agents."""

    name = "DIRECT"

    def __init__(self, reactor, *, trust_root=None, connect_timeout: float = 10):
        self.policy = HTTPSPolicy(trust_root)
        self.pool = client.HTTPConnectionPool(reactor)
        self._agent = client.Agent(reactor, contextFactory=self.policy,
                                   connectTimeout=connect_timeout, pool=self.pool)

    def request(self, method, uri, headers=None, bodyProducer=None) -> defer.Deferred:
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer))

    async def _request(self, method: bytes, uri: bytes, headers, body):
        try:
            return await self._agent.request(method, uri, headers, body)
        except (net_error.ConnectError, net_error.DNSLookupError) as exc:
            target = client.URI.fromBytes(uri)
            raise ProxyUnreachableError(
                f"cannot connect to {target.host.decode('idna')}:{target.port} directly "
                f"(the PAC said DIRECT): {type(exc).__name__}") from None
        except Exception as exc:
            translated = request_error(exc, "DIRECT", method, uri, self.policy.creators,
                                       "(DIRECT)")
            if translated is exc:
                raise
            raise translated from None

    def close(self) -> defer.Deferred:
        return self.pool.closeCachedConnections()


@implementer(iweb.IAgent)
class PACAgent:
    """Requests routed by `pac` (a `lab.proxy.pac.PAC`). `credentials` answer HTTP
    proxies' 407s and SOCKS5 username/password (`socks_credentials` to differ);
    `trust_root` verifies HTTPS origins on every route. `routes_taken` holds the
    last routes that carried a request (newest last), for tests and diagnostics."""

    name = "per PAC"

    def __init__(self, reactor, pac: PAC, credentials: Credentials | None = None, *,
                 socks_credentials=_SAME, trust_root=None, connect_timeout: float = 10,
                 answer_timeout: float = 30.0):
        self._reactor = reactor
        self.pac = pac
        self._credentials = credentials
        self._socks_credentials = credentials if socks_credentials is _SAME \
            else socks_credentials
        self._trust_root = trust_root
        self._timeouts = {"connect_timeout": connect_timeout, "answer_timeout": answer_timeout}
        self._agents: dict[Route, iweb.IAgent] = {}
        self.routes_taken: deque[Route] = deque(maxlen=100)

    def __repr__(self) -> str:
        return f"PACAgent({self.pac.source}, {self._credentials!r})"

    def agent_for(self, route: Route):
        """The agent that carries requests on `route`, made on first use."""
        if route not in self._agents:
            if route.kind == "DIRECT":
                agent = DirectAgent(self._reactor, trust_root=self._trust_root,
                                    connect_timeout=self._timeouts["connect_timeout"])
            elif route.kind == "SOCKS5":
                agent = SOCKSAgent(self._reactor, route.host, route.port,
                                   self._socks_credentials, trust_root=self._trust_root,
                                   **self._timeouts)
            else:
                agent = ProxyAgent(self._reactor, route.host, route.port, self._credentials,
                                   trust_root=self._trust_root, **self._timeouts)
            self._agents[route] = agent
        return self._agents[route]

    def request(self, method, uri, headers=None, bodyProducer=None) -> defer.Deferred:
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer))

    async def _request(self, method: bytes, uri: bytes, headers, body):
        # off the reactor's thread: a PAC's dnsResolve blocks (the lab's own asks the DC's
        # name, for names of the lab domain)
        routes = await threads.deferToThreadPool(self._reactor, self._reactor.getThreadPool(),
                                                 self.pac.routes, uri)
        unreachable = []
        for route in routes:
            try:
                response = await self.agent_for(route).request(method, uri, headers, body)
            except ProxyUnreachableError as exc:
                unreachable.append(f"{route}: {exc}")
                continue
            self.routes_taken.append(route)
            return response
        raise ProxyUnreachableError(
            f"no route that {self.pac.source} gave for {uri.decode('latin-1')} answered: "
            + "; ".join(unreachable))

    def close(self) -> defer.Deferred:
        """Close every route's kept-alive connections; fires when they are gone."""
        closing = [agent.close() for agent in self._agents.values()]
        return defer.gatherResults(closing, consumeErrors=True).addCallback(lambda _: None)
