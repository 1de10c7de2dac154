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

from lab.proxy.challenges import find_challenge, parse_challenges

_MAX_HEAD = 64 * 1024


class ProxyConnectRefused(Exception):
    """The proxy answered CONNECT with `status` (internal; the agent translates it)."""

    def __init__(self, status: int, reason: str, headers: dict[bytes, list[bytes]]):
        super().__init__(f"proxy answered CONNECT with {status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers


class _TunnelProtocol(protocol.Protocol):
    """Speaks CONNECT (with as many auth legs as a connection-bound scheme needs),
    then hands the connection over to the protocol the caller asked for."""

    def __init__(self, endpoint: TunnelEndpoint, factory, established: defer.Deferred):
        self._endpoint = endpoint
        self._factory = factory
        self._established = established
        self._authenticator = endpoint.authenticator_factory()
        self._legs = 0
        self._buffer = b""
        self._skip = 0
        self._inner = None

    def connectionMade(self):
        try:
            auth = self._authenticator.header() if self._authenticator is not None else None
        except Exception as exc:          # e.g. no Kerberos ticket: fail the connect
            self._fail(exc)
            return
        self.transport.write(self._endpoint.request(auth))

    def dataReceived(self, data):
        if self._inner is not None:
            self._inner.dataReceived(data)
            return
        self._buffer += data
        while self._inner is None and self._established is not None:
            if self._skip:                          # the body of a 407 we answered
                dropped = min(self._skip, len(self._buffer))
                self._buffer, self._skip = self._buffer[dropped:], self._skip - dropped
                if self._skip:
                    return
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                if len(self._buffer) > _MAX_HEAD:
                    self._fail(ProxyConnectRefused(502, "oversized CONNECT answer", {}))
                return
            self._buffer = rest
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self._fail(ProxyConnectRefused(502, "malformed CONNECT answer", {}))
            return
        headers: dict[bytes, list[bytes]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if status == 200:
            self._hand_over()
            return
        auth = self._authenticator
        if status == 407 and auth is not None and auth.connection_bound and self._legs < 2:
            challenge = find_challenge(parse_challenges(headers.get(b"proxy-authenticate", [])),
                                       auth.scheme)
            if challenge is not None:               # next leg, on this same connection
                self._legs += 1
                self._skip = int((headers.get(b"content-length") or [b"0"])[0])
                try:
                    answer = auth.step(challenge)
                except Exception as exc:
                    self._fail(exc)
                    return
                self.transport.write(self._endpoint.request(answer))
                return
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        self._fail(ProxyConnectRefused(status, reason, headers))

    def _hand_over(self) -> None:
        self._inner = self._factory.buildProtocol(self.transport.getPeer())
        if self._inner is None:
            self._fail(ConnectionAbortedError("the protocol factory refused the tunnel"))
            return
        self._inner.makeConnection(self.transport)
        established, self._established = self._established, None
        established.callback(self._inner)
        rest, self._buffer = self._buffer, b""
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

    `authenticator_factory()` is called for each connection and returns the
    authenticator to answer with (or None): its `header()` goes on the first
    CONNECT, and a connection-bound one (NTLM) answers further 407s on the same
    connection.
    """

    def __init__(self, proxy_endpoint, host: bytes | str, port: int,
                 authenticator_factory: Callable[[], object | None] = lambda: None):
        self._proxy = proxy_endpoint
        self._host = host.encode() if isinstance(host, str) else host
        self._port = port
        self.authenticator_factory = authenticator_factory

    def request(self, authorization: bytes | None) -> bytes:
        target = b"%s:%d" % (self._host, self._port)
        lines = [b"CONNECT " + target + b" HTTP/1.1", b"Host: " + target]
        if authorization:
            lines.append(b"Proxy-Authorization: " + authorization)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def connect(self, protocol_factory):
        established: defer.Deferred = defer.Deferred()
        tunnel_factory = protocol.Factory.forProtocol(
            lambda: _TunnelProtocol(self, protocol_factory, established))
        connecting = self._proxy.connect(tunnel_factory)

        def connected(tunnel):
            def cancel(_):
                tunnel.transport.abortConnection()

            result = defer.Deferred(cancel)
            established.chainDeferred(result)
            return result

        return connecting.addCallback(connected)
