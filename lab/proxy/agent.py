"""`ProxyAgent`: an `IAgent` (usable by treq) that goes through an HTTP proxy.

- http:// URLs: absolute-URI requests to the proxy (Twisted's own ProxyAgent
  does the wire work, sharing one keep-alive pool).
- https:// URLs: a CONNECT tunnel (`TunnelEndpoint`), then TLS to the origin
  with certificate verification (`trust_root` for a self-signed lab CA).
- 407 (on a request or on CONNECT): read `Proxy-Authenticate` and answer the
  first offered scheme we can: Basic or Negotiate (Kerberos; a fresh token per
  request, sent pre-emptively from then on), or NTLM (three legs on one
  connection, which the proxy then trusts; requests are serialised meanwhile).
  A refusal after answering, or a challenge we cannot answer, ends in
  `ProxyAuthenticationError`: never a loop. A 403 squid made itself is a
  `ProxyForbiddenError` (e.g. a valid user outside a group rule).
"""

from __future__ import annotations

from twisted.internet import defer, endpoints, error, ssl
from twisted.web import client, http_headers, iweb
from zope.interface import implementer

from lab.proxy.challenges import (
    Challenge,
    Credentials,
    choose_authenticator,
    find_challenge,
    parse_challenges,
)
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
        self._one_connection = defer.DeferredLock()   # NTLM: legs share a connection
        self.challenges_seen = 0        # 407s received (the benchmark checks pre-emption)

    def __repr__(self) -> str:
        return f"ProxyAgent({self.proxy_host}:{self.proxy_port}, {self._credentials!r})"

    # -- IAgentEndpointFactory, for https:// --------------------------------

    def endpointForURI(self, uri):
        tunnel = TunnelEndpoint(self._proxy_endpoint, uri.host, uri.port, self._tunnel_auth)
        host = uri.host.decode("idna")
        options = ssl.optionsForClientTLS(host, trustRoot=self._trust_root)
        return endpoints.wrapClientTLS(options, tunnel)

    def _tunnel_auth(self):
        """The authenticator for one CONNECT: a fresh one per connection when the
        scheme is connection-bound (each tunnel does its own NTLM handshake)."""
        auth = self._authenticator
        if auth is not None and auth.connection_bound:
            return choose_authenticator([Challenge(auth.scheme)], self._credentials,
                                        self.proxy_host)
        return auth

    def _auth_header(self) -> bytes | None:
        auth = self._authenticator
        if auth is None or auth.connection_bound:   # NTLM: the connection is what's trusted
            return None
        return auth.header()

    # -- IAgent ---------------------------------------------------------------

    def request(self, method, uri, headers=None, bodyProducer=None):
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer))

    async def _request(self, method, uri, headers, body):
        if uri.startswith(b"https:"):
            return await self._request_https(method, uri, headers, body)
        serialize = self._authenticator is not None and self._authenticator.connection_bound
        if serialize:
            await self._one_connection.acquire()
        try:
            return await self._request_http(method, uri, headers, body, holding=serialize)
        finally:
            if serialize:
                self._one_connection.release()

    async def _send(self, method, uri, headers, body, authorization=None):
        headers = headers.copy() if headers is not None else http_headers.Headers()
        authorization = authorization or self._auth_header()
        if authorization:
            headers.setRawHeaders(b"proxy-authorization", [authorization])
        try:
            return await self._http.request(method, uri, headers, body)
        except (error.ConnectError, error.DNSLookupError) as exc:
            raise self._unreachable(exc) from None

    async def _request_http(self, method, uri, headers, body, holding=False):
        return await self._refuse_proxy_denial(
            await self._authenticated_http(method, uri, headers, body, holding), uri)

    async def _refuse_proxy_denial(self, response, uri):
        """A 403 the proxy made itself (squid marks it with X-Squid-Error), e.g. a valid
        user outside a group rule: a ProxyForbiddenError, not the origin's 403."""
        if response.code == 403 and response.headers.hasHeader(b"x-squid-error"):
            reason = response.headers.getRawHeaders(b"x-squid-error")[0].decode("latin-1")
            await client.readBody(response).addErrback(lambda _: None)
            raise ProxyForbiddenError(403, f"403 from proxy {self.proxy_host}:{self.proxy_port}"
                                      f" for {uri.decode()}: not allowed ({reason})")
        return response

    async def _authenticated_http(self, method, uri, headers, body, holding):
        response = await self._send(method, uri, headers, body)
        if response.code != 407:
            return response
        challenges = await self._challenges_of(response)
        auth = self._choose(challenges, body, uri.decode())
        if not auth.connection_bound:
            response = await self._send(method, uri, headers, body)
            if response.code == 407:
                await self._challenges_of(response)
                raise self._refused(challenges, uri.decode())
            return response
        # NTLM: all legs on one connection. While this holds the lock, no other
        # request of this agent can take that connection from the pool.
        if not holding:
            await self._one_connection.acquire()
        try:
            response = await self._send(method, uri, headers, body, auth.header())
            for _leg in range(2):                   # at most: challenge, then authenticate
                if response.code != 407:
                    return response
                next_challenge = find_challenge(await self._challenges_of(response),
                                                auth.scheme)
                if next_challenge is None:
                    raise self._refused(challenges, uri.decode())
                response = await self._send(method, uri, headers, body,
                                            auth.step(next_challenge))
            if response.code != 407:
                return response
            await self._challenges_of(response)
            raise self._refused(challenges, uri.decode())
        finally:
            if not holding:
                self._one_connection.release()

    async def _request_https(self, method, uri, headers, body):
        for attempt in (1, 2):   # the second refusal always raises: never a loop
            try:
                return await self._https.request(method, uri, headers, body)
            except ProxyConnectRefused as refused:
                what = f"CONNECT to {uri.decode()}"
                if refused.status != 407:
                    raise self._status_error(refused.status, what) from None
                challenges = parse_challenges(refused.headers.get(b"proxy-authenticate", []))
                self.challenges_seen += 1
                if attempt == 2 or self._authenticator is not None:
                    raise self._refused(challenges, what) from None
                self._choose(challenges, body, what)
            except (error.ConnectError, error.DNSLookupError) as exc:
                raise self._unreachable(exc) from None
        raise AssertionError("unreachable")

    # -- decisions and errors ----------------------------------------------------

    async def _challenges_of(self, response):
        """Parse a 407's challenges and drain its body (so the connection is reusable)."""
        self.challenges_seen += 1
        challenges = parse_challenges(response.headers.getRawHeaders(b"proxy-authenticate", []))
        await client.readBody(response).addErrback(lambda _: None)
        return challenges

    def _choose(self, challenges, body, what):
        """The authenticator to answer these challenges with, or raise."""
        had = self._authenticator
        if had is not None and not had.connection_bound:
            self._authenticator = None
            raise self._refused(challenges, what)   # pre-emptive credentials were refused
        auth = choose_authenticator(challenges, self._credentials, self.proxy_host)
        if auth is None or body is not None:
            raise self._cannot_answer(challenges, body, what)
        self._authenticator = auth
        return auth

    def _cannot_answer(self, challenges, body, what):
        schemes = _scheme_names(challenges)
        if body is not None:
            why = "credentials needed; send a request without a body first"
        elif self._credentials is None:
            why = "the proxy wants credentials and none were given"
        else:
            why = "no offered scheme can be answered with these credentials"
        return ProxyAuthenticationError(
            407, f"407 from proxy {self.proxy_host}:{self.proxy_port} for {what}: {why} "
            f"(offered: {', '.join(schemes) or 'nothing'})", schemes)

    def _refused(self, challenges, what):
        self._authenticator = None
        schemes = _scheme_names(challenges)
        return ProxyAuthenticationError(
            407, f"407 from proxy {self.proxy_host}:{self.proxy_port} for {what}: the proxy "
            f"refused the credentials (offered: {', '.join(schemes) or 'nothing'})", schemes)

    def _status_error(self, status, what):
        if status == 403:
            return ProxyForbiddenError(403, f"403 from proxy {self.proxy_host}:"
                                       f"{self.proxy_port}: {what} is not allowed")
        return ProxyTunnelError(status, f"proxy {self.proxy_host}:{self.proxy_port} answered "
                                f"{status} to {what}")

    def _unreachable(self, exc):
        return ProxyUnreachableError(
            f"cannot reach proxy {self.proxy_host}:{self.proxy_port} ({type(exc).__name__}): "
            "is the lab up? (`make lab-up`, `lab status`)")

    def close(self) -> defer.Deferred:
        """Close every cached (keep-alive) connection; fires when they are gone."""
        return self.pool.closeCachedConnections()


__all__ = ["ProxyAgent", "ProxyError"]
