"""`ProxyAgent`: an `IAgent` (usable by treq) that goes through an HTTP proxy,
authenticating as needed: `ProxyAuthAgent` wrapped around `ProxyTransportAgent`.

- http:// URLs: absolute-URI requests on keep-alive connections to the proxy.
- https:// URLs: a CONNECT tunnel, then TLS to the origin, verified
  (`trust_root` for a self-signed lab CA).
- 407s: each request answers its own, choosing among the offered schemes as a
  browser does (Negotiate, then NTLM, then Basic; see `lab.proxy.schemes`).
  What worked is then sent pre-emptively (Basic, Negotiate), or NTLM reuses the
  connections it authenticated. A refusal of credentials a request sent, or a
  challenge it cannot answer, is a `ProxyAuthenticationError`: never a loop.
- A 403 squid made itself is a `ProxyForbiddenError`; see `lab.proxy.errors`
  for the rest.
"""

from __future__ import annotations

from twisted.internet import defer, endpoints
from twisted.web import iweb
from zope.interface import implementer

from lab.proxy.auth import ProxyAuthAgent
from lab.proxy.challenges import Credentials
from lab.proxy.pool import ConnectionPool
from lab.proxy.schemes import DEFAULT_SCHEMES, Factory
from lab.proxy.transport import ProxyTransportAgent


@implementer(iweb.IAgent)
class ProxyAgent:
    """Send requests through the proxy at `proxy_host:proxy_port`.

    `proxy_address` is where to connect when it differs from the proxy's name
    (Kerberos needs the name in the service principal, the socket needs
    127.0.0.1); `endpoint` replaces both with any client endpoint, as Twisted's
    `ProxyAgent` takes one. `credentials` is a `Credentials` (or None).
    """

    def __init__(self, reactor, proxy_host: str, proxy_port: int,
                 credentials: Credentials | None = None, *, proxy_address: str | None = None,
                 endpoint=None, pool: ConnectionPool | None = None, trust_root=None,
                 connect_timeout: float = 10, answer_timeout: float = 30.0,
                 schemes: dict[str, Factory] = DEFAULT_SCHEMES):
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.name = f"{proxy_host}:{proxy_port}"
        self._credentials = credentials
        if endpoint is None:
            endpoint = endpoints.HostnameEndpoint(reactor, proxy_address or proxy_host,
                                                  proxy_port, timeout=connect_timeout)
        self.transport = ProxyTransportAgent(
            reactor, endpoint, name=f"{proxy_host}:{proxy_port}", pool=pool,
            trust_root=trust_root, answer_timeout=answer_timeout)
        self.auth = ProxyAuthAgent(self.transport, credentials, service_host=proxy_host,
                                   schemes=schemes)

    def __repr__(self) -> str:
        return f"ProxyAgent({self.proxy_host}:{self.proxy_port}, {self._credentials!r})"

    @property
    def pool(self) -> ConnectionPool:
        return self.transport.pool

    @property
    def challenges_seen(self) -> int:
        """407s received so far (benchmarks and tests check pre-emption with it)."""
        return self.auth.memory.challenges_seen

    def request(self, method, uri, headers=None, bodyProducer=None) -> defer.Deferred:
        return self.auth.request(method, uri, headers, bodyProducer)

    def close(self) -> defer.Deferred:
        """Close every kept-alive connection; fires when they are gone."""
        return self.transport.close()


__all__ = ["ProxyAgent"]
