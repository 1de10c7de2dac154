"""`ProxyAgent`: an `IAgent` (usable by treq) that goes through an HTTP proxy.

- http:// URLs: absolute-URI requests to the proxy (Twisted's own ProxyAgent
  does the wire work, sharing one keep-alive pool).
- https:// URLs: a CONNECT tunnel (`TunnelEndpoint`), then TLS to the origin
  with certificate verification (`trust_root` for a self-signed lab CA).
- 407 (on a request or on CONNECT): read `Proxy-Authenticate`, answer once
  with our credentials if we can, and from then on send them pre-emptively.
  A second 407, or one we cannot answer, ends in `ProxyAuthenticationError`:
  never a loop.
"""

from __future__ import annotations

from twisted.internet import defer, endpoints, error, ssl
from twisted.web import client, http_headers, iweb
from zope.interface import implementer

from lab.proxy.challenges import Credentials, choose_authenticator, parse_challenges
from lab.proxy.errors import (
    ProxyAuthenticationError,
    ProxyError,
    ProxyForbiddenError,
    ProxyTunnelError,
    ProxyUnreachableError,
)
from lab.proxy.tunnel import ProxyConnectRefused, TunnelEndpoint


def _scheme_names(challenges) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.scheme for c in challenges))


@implementer(iweb.IAgent)
class ProxyAgent:
    """Send requests through the proxy at `proxy_host:proxy_port`.

    `proxy_address` is where to connect when it differs from the proxy's name
    (e.g. Kerberos needs the name in the service principal, the socket needs
    127.0.0.1). `credentials` is a `Credentials` (or None).
    """

    def __init__(self, reactor, proxy_host: str, proxy_port: int,
                 credentials: Credentials | None = None, *, proxy_address: str | None = None,
                 pool: client.HTTPConnectionPool | None = None, trust_root=None,
                 connect_timeout: float = 10):
        self._reactor = reactor
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self._credentials = credentials
        self._trust_root = trust_root
        self.pool = pool or client.HTTPConnectionPool(reactor, persistent=True)
        self._proxy_endpoint = endpoints.HostnameEndpoint(
            reactor, proxy_address or proxy_host, proxy_port, timeout=connect_timeout)
        self._http = client.ProxyAgent(self._proxy_endpoint, reactor, self.pool)
        self._https = client.Agent.usingEndpointFactory(reactor, self, self.pool)
        self._authenticator = None      # set after the first 407 we could answer
        self.challenges_seen = 0        # 407s received (the benchmark checks pre-emption)

    def __repr__(self) -> str:
        return f"ProxyAgent({self.proxy_host}:{self.proxy_port}, {self._credentials!r})"

    # -- IAgentEndpointFactory, for https:// --------------------------------

    def endpointForURI(self, uri):
        tunnel = TunnelEndpoint(self._proxy_endpoint, uri.host, uri.port, self._auth_header)
        host = uri.host.decode("idna")
        options = ssl.optionsForClientTLS(host, trustRoot=self._trust_root)
        return endpoints.wrapClientTLS(options, tunnel)

    def _auth_header(self) -> bytes | None:
        return self._authenticator.header() if self._authenticator is not None else None

    # -- IAgent ---------------------------------------------------------------

    def request(self, method, uri, headers=None, bodyProducer=None):
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer))

    async def _request(self, method, uri, headers, body):
        https = uri.startswith(b"https:")
        for attempt in (1, 2):   # the second 407 always raises: never a loop
            try:
                if https:
                    response = await self._https.request(method, uri, headers, body)
                else:
                    response = await self._http.request(
                        method, uri, self._with_auth(headers), body)
            except ProxyConnectRefused as refused:
                self._raise_for_status(refused.status, refused.headers.get(
                    b"proxy-authenticate", []), attempt, body, f"CONNECT to {uri.decode()}")
                continue
            except (error.ConnectError, error.DNSLookupError) as exc:
                kind = type(exc).__name__
                raise ProxyUnreachableError(
                    f"cannot reach proxy {self.proxy_host}:{self.proxy_port} ({kind}): "
                    "is the lab up? (`make lab-up`, `lab status`)") from None
            if response.code != 407:
                return response
            challenges = response.headers.getRawHeaders(b"proxy-authenticate", [])
            await client.readBody(response).addErrback(lambda _: None)
            self._raise_for_status(407, challenges, attempt, body, uri.decode())
        raise AssertionError("unreachable: the second 407 always raises")

    def _raise_for_status(self, status, challenge_values, attempt, body, what):
        """Return to retry once with credentials; raise for everything else."""
        if status == 407:
            self.challenges_seen += 1
            challenges = parse_challenges(challenge_values)
            schemes = _scheme_names(challenges)
            had_credentials_on = self._authenticator is not None
            self._authenticator = None
            if not had_credentials_on and body is None:
                self._authenticator = choose_authenticator(challenges, self._credentials)
                if self._authenticator is not None:
                    return                      # answer the challenge, once
            if self._credentials is None:
                why = "the proxy wants credentials and none were given"
            elif had_credentials_on:
                why = "the proxy refused the credentials"
            elif body is not None:
                why = "credentials needed; send a request without a body first"
            else:
                why = "no offered scheme can be answered with these credentials"
            raise ProxyAuthenticationError(
                407, f"407 from proxy {self.proxy_host}:{self.proxy_port} for {what}: {why} "
                f"(offered: {', '.join(schemes) or 'nothing'})", schemes)
        if status == 403:
            raise ProxyForbiddenError(403, f"403 from proxy {self.proxy_host}:"
                                      f"{self.proxy_port}: {what} is not allowed")
        raise ProxyTunnelError(status, f"proxy {self.proxy_host}:{self.proxy_port} answered "
                               f"{status} to {what}")

    def _with_auth(self, headers):
        value = self._auth_header()
        if value is None:
            return headers
        headers = headers.copy() if headers is not None else http_headers.Headers()
        headers.setRawHeaders(b"proxy-authorization", [value])
        return headers

    def close(self) -> defer.Deferred:
        """Close every cached (keep-alive) connection; fires when they are gone."""
        return self.pool.closeCachedConnections()


__all__ = ["ProxyAgent", "ProxyError"]
