"""`SOCKSAgent`: an `IAgent` (usable by treq) for http:// and https:// URLs through a
SOCKS5 proxy, on Twisted's own `Agent` with an endpoint factory.

Unlike an HTTP proxy, SOCKS carries every request on a connection to the origin
itself: plain HTTP speaks origin-form inside the SOCKS connection, HTTPS
wraps it in TLS verified against `trust_root` (an untrusted certificate is an
`OriginTLSError` naming its issuer, see `lab.proxy.trust`). Twisted's
connection pool keeps them alive per origin; it keeps at most 2 idle per origin
and closes the rest without waiting, so `close()` tracks every connection to the
proxy itself. Errors are `lab.proxy` errors, as for `ProxyAgent`, so callers
handle both kinds of proxy alike.
"""

from __future__ import annotations

import weakref

from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web import client, iweb
from zope.interface import implementer

from lab.proxy.challenges import Credentials
from lab.proxy.socks import SOCKS5Endpoint
from lab.proxy.trust import VerifyingCreator, request_error


@implementer(iweb.IAgentEndpointFactory)
class SOCKS5EndpointFactory:
    """The endpoint to each URL's origin through the SOCKS5 proxy at `proxy_endpoint`:
    what `Agent.usingEndpointFactory` asks for (https: TLS over it)."""

    def __init__(self, reactor, proxy_endpoint, credentials: Credentials | None = None, *,
                 proxy_name: str = "", trust_root=None, answer_timeout: float = 30.0):
        self._reactor = reactor
        #: every connection to the proxy, open or not yet collected (`SOCKSAgent.close`)
        self.connections: weakref.WeakSet = weakref.WeakSet()
        self._proxy = _Noted(proxy_endpoint, self.connections)
        self._credentials = credentials
        self._proxy_name = proxy_name
        self._trust_root = trust_root
        self._answer_timeout = answer_timeout
        self.creators: dict[str, VerifyingCreator] = {}

    def creator(self, host: str) -> VerifyingCreator:
        """TLS options per origin host, made once (each makes an SSL context)."""
        if host not in self.creators:
            self.creators[host] = VerifyingCreator(host, self._trust_root)
        return self.creators[host]

    def endpointForURI(self, uri: client.URI):
        host = uri.host.decode("idna")
        endpoint = SOCKS5Endpoint(self._reactor, self._proxy, host, uri.port,
                                  self._credentials, proxy_name=self._proxy_name,
                                  answer_timeout=self._answer_timeout)
        if uri.scheme == b"https":
            return endpoints.wrapClientTLS(self.creator(host), endpoint)
        return endpoint

    def close(self) -> defer.Deferred:
        """Abort every open connection to the proxy; fires when they are all closed."""
        closing = []
        for connection in list(self.connections):
            if not connection.lost:
                closing.append(connection.gone)
                connection.transport.abortConnection()
        return defer.gatherResults(closing).addCallback(lambda _: None)


@implementer(IStreamClientEndpoint)
class _Noted:
    """`endpoint`, noting each protocol it connects in `connections`."""

    def __init__(self, endpoint, connections: weakref.WeakSet):
        self._endpoint = endpoint
        self._connections = connections

    def connect(self, protocol_factory) -> defer.Deferred:
        def note(protocol):
            self._connections.add(protocol)
            return protocol

        return self._endpoint.connect(protocol_factory).addCallback(note)


@implementer(iweb.IAgent)
class SOCKSAgent:
    """Send requests through the SOCKS5 proxy at `proxy_host:proxy_port` (connect to
    `proxy_address` instead when given; `endpoint` replaces both). Names in URLs are
    resolved by the proxy (socks5h)."""

    def __init__(self, reactor, proxy_host: str, proxy_port: int,
                 credentials: Credentials | None = None, *, proxy_address: str | None = None,
                 endpoint=None, pool: client.HTTPConnectionPool | None = None,
                 trust_root=None, connect_timeout: float = 10, answer_timeout: float = 30.0):
        self.name = f"{proxy_host}:{proxy_port}"
        self._credentials = credentials
        if endpoint is None:
            endpoint = endpoints.HostnameEndpoint(reactor, proxy_address or proxy_host,
                                                  proxy_port, timeout=connect_timeout)
        self.endpoints = SOCKS5EndpointFactory(reactor, endpoint, credentials,
                                               proxy_name=f"socks5://{self.name}",
                                               trust_root=trust_root,
                                               answer_timeout=answer_timeout)
        self.pool = pool if pool is not None else client.HTTPConnectionPool(reactor)
        self._agent = client.Agent.usingEndpointFactory(reactor, self.endpoints, pool=self.pool)

    def __repr__(self) -> str:
        return f"SOCKSAgent(socks5://{self.name}, {self._credentials!r})"

    def request(self, method, uri, headers=None, bodyProducer=None) -> defer.Deferred:
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer))

    async def _request(self, method: bytes, uri: bytes, headers, body):
        try:
            return await self._agent.request(method, uri, headers, body)
        except Exception as exc:
            translated = request_error(exc, f"socks5://{self.name}", method, uri,
                                       self.endpoints.creators,
                                       f"through socks5://{self.name}")
            if translated is exc:
                raise
            raise translated from None

    def close(self) -> defer.Deferred:
        """Close every connection this agent opened: kept alive, in use, or being
        closed by the pool (which does not wait for those it drops); at once rather
        than politely, as a TLS close would wait for the peer's close_notify. Fires
        when they are all gone."""
        cached = self.pool.closeCachedConnections()
        closed = self.endpoints.close()
        return defer.gatherResults([cached, closed], consumeErrors=True).addCallback(
            lambda _: None)
