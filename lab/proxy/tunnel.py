"""An endpoint that reaches host:port through an HTTP proxy's CONNECT method.

Connect to the proxy, send CONNECT (with `Proxy-Authorization` when we have
it), read the proxy's answer, and only on 200 hand the raw connection to the
protocol the caller asked for (typically TLS, via `wrapClientTLS`). Anything
else fails the connect with a `ProxyConnectRefused` carrying the status and
the proxy's challenges, so the agent can answer a 407 and try again.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

_MAX_HEAD = 64 * 1024


class ProxyConnectRefused(Exception):
    """The proxy answered CONNECT with `status` (internal; the agent translates it)."""

    def __init__(self, status: int, reason: str, headers: dict[bytes, list[bytes]]):
        super().__init__(f"proxy answered CONNECT with {status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers


class _TunnelProtocol(protocol.Protocol):
    def __init__(self, request: bytes, factory, established: defer.Deferred):
        self._request = request
        self._factory = factory
        self._established = established
        self._buffer = b""
        self._inner = None

    def connectionMade(self):
        self.transport.write(self._request)

    def dataReceived(self, data):
        if self._inner is not None:
            self._inner.dataReceived(data)
            return
        self._buffer += data
        head, sep, rest = self._buffer.partition(b"\r\n\r\n")
        if not sep:
            if len(self._buffer) > _MAX_HEAD:
                self._fail(ProxyConnectRefused(502, "oversized CONNECT answer", {}))
            return
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self._fail(ProxyConnectRefused(502, "malformed CONNECT answer", {}))
            return
        if status != 200:
            headers: dict[bytes, list[bytes]] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
            reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
            self._fail(ProxyConnectRefused(status, reason, headers))
            return
        self._inner = self._factory.buildProtocol(self.transport.getPeer())
        if self._inner is None:
            self._fail(ConnectionAbortedError("the protocol factory refused the tunnel"))
            return
        self._inner.makeConnection(self.transport)
        established, self._established = self._established, None
        established.callback(self._inner)
        if rest:
            self._inner.dataReceived(rest)

    def _fail(self, exc):
        established, self._established = self._established, None
        self.transport.loseConnection()
        if established is not None:
            established.errback(exc)

    def connectionLost(self, reason):
        if self._inner is not None:
            self._inner.connectionLost(reason)
        elif self._established is not None:
            established, self._established = self._established, None
            established.errback(reason)


@implementer(IStreamClientEndpoint)
class TunnelEndpoint:
    """Reach `host:port` through the proxy at `proxy_endpoint` with CONNECT.

    `authorization()` is called at each connect and returns the
    `Proxy-Authorization` value to send, or None.
    """

    def __init__(self, proxy_endpoint, host: bytes | str, port: int,
                 authorization: Callable[[], bytes | None] = lambda: None):
        self._proxy = proxy_endpoint
        self._host = host.encode() if isinstance(host, str) else host
        self._port = port
        self._authorization = authorization

    def _request(self) -> bytes:
        target = b"%s:%d" % (self._host, self._port)
        lines = [b"CONNECT " + target + b" HTTP/1.1", b"Host: " + target]
        auth = self._authorization()
        if auth:
            lines.append(b"Proxy-Authorization: " + auth)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def connect(self, protocol_factory):
        established: defer.Deferred = defer.Deferred()
        request = self._request()
        tunnel_factory = protocol.Factory.forProtocol(
            lambda: _TunnelProtocol(request, protocol_factory, established))
        connecting = self._proxy.connect(tunnel_factory)

        def connected(tunnel):
            def cancel(_):
                tunnel.transport.abortConnection()

            result = defer.Deferred(cancel)
            established.chainDeferred(result)
            return result

        return connecting.addCallback(connected)
