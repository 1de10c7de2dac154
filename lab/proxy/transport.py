"""`ProxyTransportAgent`: an `IAgent` that sends requests through an HTTP proxy and
knows nothing of credentials.

- http:// URLs: absolute-URI requests on keep-alive connections to the proxy.
- https:// URLs: a CONNECT tunnel (`TunnelEndpoint`) per origin connection, then
  TLS to the origin with certificate verification (`trust_root` for a private CA).
  `Proxy-Authorization` never goes inside the tunnel.

Like Twisted's `ProxyAgent` it takes the proxy as an endpoint. A request may
carry an `AuthExchange` (`exchange=`, what `ProxyAuthAgent` passes): its legs
then run on the one connection the request holds, for plain HTTP and inside
CONNECT alike. Everything Twisted raises comes out as a `lab.proxy` error.
"""

from __future__ import annotations

from twisted.internet import defer, endpoints
from twisted.web import client, http_headers, iweb
from twisted.web._newclient import Request, RequestNotSent, ResponseNeverReceived
from zope.interface import implementer

from lab.proxy.challenges import parse_challenges
from lab.proxy.errors import (
    OriginTLSError,
    ProxyError,
    ProxyForbiddenError,
    RequestTimeoutError,
    translate,
)
from lab.proxy.exchange import Answer, AuthExchange, authenticate
from lab.proxy.pool import ConnectionPool
from lab.proxy.trust import VerifyingCreator, explain
from lab.proxy.tunnel import TunnelEndpoint

_IDEMPOTENT = {b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"}


class _HTTPChannel:
    """One request's hold on a pooled connection: the `Channel` its exchange drives."""

    def __init__(self, pool: ConnectionPool, key, endpoint, method: bytes, target: bytes,
                 uri: client.URI, headers: http_headers.Headers, body, exchange, origin: bool,
                 answer_timeout: float):
        self._pool, self._key, self._endpoint = pool, key, endpoint
        self._method, self._target, self._uri = method, target, uri
        self._headers, self._body, self._exchange = headers, body, exchange
        self._origin = origin           # inside a tunnel: never a Proxy-Authorization
        self._answer_timeout = answer_timeout
        self._body_sent = False
        self.conn = None
        self.reused = False

    @property
    def authenticated_by(self) -> str | None:
        return self.conn.authenticated_by

    async def take(self, prefer: str | None) -> None:
        self.conn, self.reused = await self._pool.take(self._key, self._endpoint, prefer)

    async def renew(self) -> None:
        self.drop()
        self.conn, self.reused = await self._pool.connect(self._key, self._endpoint), False

    def drop(self) -> None:
        """Close the held connection: a failed exchange leaves nothing half-done behind."""
        if self.conn is not None:
            self.conn.held = False
            self.conn.transport.abortConnection()
            self.conn = None

    async def send(self, authorization: bytes | None, probe: bool) -> Answer:
        if self._body_sent:
            raise self._exchange.body_error()
        headers = self._headers.copy()
        if authorization or self._origin:
            headers.removeHeader(b"proxy-authorization")
        if authorization:
            headers.setRawHeaders(b"proxy-authorization", [authorization])
        body = None if probe else self._body
        self._body_sent = body is not None
        while True:
            request = Request._construct(self._method, self._target, headers, body,
                                         persistent=True, parsedURI=self._uri)
            try:
                response = await self.conn.request(request).addTimeout(
                    self._answer_timeout, self._pool.reactor, self._timed_out)
                break
            except (RequestNotSent, ResponseNeverReceived) as exc:
                # a kept-alive connection the peer closed meanwhile: once more, on a new one
                if not self.reused or body is not None or not (
                        isinstance(exc, RequestNotSent) or self._method in _IDEMPOTENT):
                    raise
                await self.renew()
        self.reused = False
        challenges = []
        if response.code == 407:
            self.conn.authenticated_by = None
            challenges = parse_challenges(response.headers.getRawHeaders(
                b"proxy-authenticate", []))
        return Answer(response.code, challenges, response)

    def _timed_out(self, result, timeout):
        raise RequestTimeoutError(f"no response head for {self._method.decode()} "
                                  f"{self._uri.toBytes().decode()} within {timeout} s")

    async def finish(self, answer: Answer) -> bool:
        await client.readBody(answer.payload).addErrback(lambda _: None)
        # a 407 with `Connection: close` (as some proxies and load balancers send it):
        # Twisted lets go of the connection as the body ends, before its state says so
        return self.conn.state == "QUIESCENT" and not self.conn.transport.disconnecting

    def trust(self, scheme: str | None) -> None:
        if scheme is not None:
            self.conn.authenticated_by = scheme


def _host_value(uri: client.URI) -> bytes:
    host = b"[" + uri.host + b"]" if b":" in uri.host else uri.host
    if (uri.scheme, uri.port) in ((b"http", 80), (b"https", 443)):
        return host
    return b"%b:%d" % (host, uri.port)


@implementer(iweb.IAgent)
class ProxyTransportAgent:
    """Requests through the proxy at `proxy_endpoint` (see the module docstring).
    `name` ("host:port") is how messages call the proxy."""

    def __init__(self, reactor, proxy_endpoint, *, name: str = "proxy",
                 pool: ConnectionPool | None = None, trust_root=None,
                 answer_timeout: float = 30.0):
        self._reactor = reactor
        self._endpoint = proxy_endpoint
        self.name = name
        self.pool = pool or ConnectionPool(reactor)
        self._trust_root = trust_root
        self._answer_timeout = answer_timeout
        self._tls: dict[bytes, VerifyingCreator] = {}

    def request(self, method, uri, headers=None, bodyProducer=None, *,
                exchange: AuthExchange | None = None) -> defer.Deferred:
        return defer.ensureDeferred(self._request(method, uri, headers, bodyProducer, exchange))

    async def _request(self, method, uri, headers, body, exchange):
        what = f"{method.decode('latin-1')} {uri.decode('latin-1')}"
        parsed = None
        try:
            parsed = client.URI.fromBytes(uri)
            headers = headers.copy() if headers is not None else http_headers.Headers()
            if not headers.hasHeader(b"host"):
                headers.addRawHeader(b"host", _host_value(parsed))
            if parsed.scheme == b"https":
                return await self._https(method, parsed, headers, body, exchange)
            if parsed.scheme != b"http":
                raise ProxyError(None, f"cannot send {what} through a proxy: not http(s)")
            return await self._http(method, parsed, headers, body, exchange, what)
        except Exception as exc:
            translated = translate(exc, self.name, what)
            if isinstance(translated, OriginTLSError) and parsed is not None:
                translated = explain(translated, self._tls.get(parsed.host),
                                     f"{what} through proxy {self.name}")
            if translated is exc:
                raise
            raise translated from None

    async def _http(self, method, uri, headers, body, exchange, what):
        channel = _HTTPChannel(self.pool, b"http-proxy", self._endpoint, method, uri.toBytes(),
                               uri, headers, body, exchange, origin=False,
                               answer_timeout=self._answer_timeout)
        await channel.take(exchange.preferred if exchange else None)
        try:
            answer = await authenticate(exchange, channel)
        except BaseException:
            channel.drop()
            raise
        self.pool.release(channel.conn)
        response = answer.payload
        if response.code == 403 and response.headers.hasHeader(b"x-squid-error"):
            reason = response.headers.getRawHeaders(b"x-squid-error")[0].decode("latin-1")
            await client.readBody(response).addErrback(lambda _: None)
            raise ProxyForbiddenError(403, f"403 from proxy {self.name} for {what}: "
                                      f"not allowed ({reason})")
        return response

    async def _https(self, method, uri, headers, body, exchange):
        tunnel = TunnelEndpoint(self._reactor, self._endpoint, uri.host, uri.port, exchange,
                                proxy_name=self.name, answer_timeout=self._answer_timeout)
        endpoint = endpoints.wrapClientTLS(self._tls_options(uri.host), tunnel)
        channel = _HTTPChannel(self.pool, (b"https", uri.host, uri.port), endpoint, method,
                               uri.originForm, uri, headers, body, None, origin=True,
                               answer_timeout=self._answer_timeout)
        await channel.take(None)
        try:
            answer = await channel.send(None, probe=False)
        except BaseException:
            channel.drop()
            raise
        self.pool.release(channel.conn)
        return answer.payload

    def _tls_options(self, host: bytes) -> VerifyingCreator:
        """Client TLS options per origin host, made once (each makes an SSL context);
        they remember the issuer of a refused certificate, for `OriginTLSError`."""
        if host not in self._tls:
            self._tls[host] = VerifyingCreator(host.decode("idna"), self._trust_root)
        return self._tls[host]

    def close(self) -> defer.Deferred:
        """Close every connection; fires when they are all gone."""
        return self.pool.close()
