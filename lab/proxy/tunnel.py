"""An endpoint that reaches host:port through an HTTP proxy's CONNECT method.

Connect to the proxy, send CONNECT, and answer its 407s through the request's
`AuthExchange` (`lab.proxy.exchange.authenticate`: the same legs as plain HTTP,
on this one connection). Only on 200 is the raw connection handed to the
protocol the caller asked for (typically TLS, via `wrapClientTLS`). Any other
answer fails the connect with a `lab.proxy` error carrying the proxy's real
status; a garbled or oversized answer is a `ProxyProtocolError`, a silent proxy
a `RequestTimeoutError` after `answer_timeout` seconds.
"""

from __future__ import annotations

import re

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

from lab.proxy.challenges import parse_challenges
from lab.proxy.errors import (
    ProxyConnectionLostError,
    ProxyForbiddenError,
    ProxyProtocolError,
    ProxyTunnelError,
    RequestTimeoutError,
)
from lab.proxy.exchange import Answer, AuthExchange, authenticate
from lab.proxy.wire import HeadLimit

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: (.*))?\r?$")


def hand_over(negotiator: protocol.Protocol, factory: protocol.Factory) -> protocol.Protocol:
    """Give a connection whose proxy handshake is done (CONNECT's 200, SOCKS5's reply)
    to the protocol the caller asked for, with whatever arrived after the handshake:
    the negotiator keeps the transport and passes bytes on from then on."""
    inner = factory.buildProtocol(negotiator.transport.getPeer())
    inner.makeConnection(negotiator.transport)
    rest, negotiator._buffer = negotiator._buffer, b""
    if rest:
        inner.dataReceived(rest)
    return inner


class _TunnelProtocol(protocol.Protocol):
    """Sends CONNECT requests and reads their answers until one is 200, then hands
    the connection over to the protocol the caller asked for."""

    def __init__(self, reactor, answer_timeout: float):
        self._reactor = reactor
        self._answer_timeout = answer_timeout
        self._buffer = b""
        self._skip = 0                  # body bytes of a 407 still to drop
        self._limit = HeadLimit()
        self._waiting: defer.Deferred | None = None
        self._timer = None
        self._inner = None
        self.connected_deferred: defer.Deferred = defer.Deferred()
        self.lost = False

    def connectionMade(self):
        self.connected_deferred.callback(self)

    def ask(self, request: bytes) -> defer.Deferred:
        """Send one CONNECT; fires with (status, headers) of the proxy's answer."""
        self._waiting = defer.Deferred(self._cancel)
        self._limit = HeadLimit()
        self._timer = self._reactor.callLater(self._answer_timeout, self._timed_out)
        self.transport.write(request)
        if self._buffer:
            data, self._buffer = self._buffer, b""
            self.dataReceived(data)
        return self._waiting

    def dataReceived(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.dataReceived(data)
            return
        if self._skip:
            dropped = min(self._skip, len(data))
            data, self._skip = data[dropped:], self._skip - dropped
        if self._waiting is None:
            self._buffer += data
            return
        try:
            end = self._limit.feed(data)
        except ProxyProtocolError as exc:
            self._fail(exc)
            return
        self._buffer += data
        if end is not None:
            cut = len(self._buffer) - len(data) + end
            head, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        lines = head.rstrip(b"\r\n").split(b"\n")
        match = _STATUS_LINE.match(lines[0])
        if match is None:
            self._fail(ProxyProtocolError(
                f"malformed answer to CONNECT: status line {lines[0][:60]!r}"))
            return
        headers: dict[bytes, list[bytes]] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                self._fail(ProxyProtocolError(f"malformed header in the answer to CONNECT: "
                                              f"{line[:60]!r}"))
                return
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        waiting, self._waiting = self._waiting, None
        self._timer.cancel()
        waiting.callback((int(match.group(1)), headers))

    def finish(self, headers: dict[bytes, list[bytes]]) -> bool:
        """Drop a 407's body; True when the proxy keeps this connection open for the
        next CONNECT (a known length and no `close`), else close it."""
        length = headers.get(b"content-length", [b""])[-1]
        closing = any(b"close" in v.lower() for name in (b"connection", b"proxy-connection")
                      for v in headers.get(name, []))
        if closing or not length.isdigit() or self.lost:
            self.transport.loseConnection()
            return False
        dropped = min(int(length), len(self._buffer))
        self._buffer, self._skip = self._buffer[dropped:], int(length) - dropped
        return True

    def hand_over(self, factory):
        self._inner = hand_over(self, factory)
        return self._inner

    def _cancel(self, _):
        self._waiting = None
        self._timer.cancel()
        self.transport.abortConnection()

    def _timed_out(self):
        self._fail(RequestTimeoutError(f"the proxy did not answer CONNECT within "
                                       f"{self._answer_timeout} s"))

    def _fail(self, exc: Exception) -> None:
        if not self.lost:
            self.transport.abortConnection()
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            if self._timer.active():
                self._timer.cancel()
            waiting.errback(exc)

    def connectionLost(self, reason):
        self.lost = True
        if self._inner is not None:
            self._inner.connectionLost(reason)
            return
        self._fail(ProxyConnectionLostError("the proxy closed the connection before "
                                            "answering CONNECT"))


class _TunnelChannel:
    """The `Channel` an exchange uses while a tunnel is being opened."""

    authenticated_by = None

    def __init__(self, endpoint: TunnelEndpoint):
        self._endpoint = endpoint
        self.tunnel: _TunnelProtocol | None = None

    async def renew(self) -> None:
        endpoint = self._endpoint
        factory = protocol.Factory.forProtocol(
            lambda: _TunnelProtocol(endpoint.reactor, endpoint.answer_timeout))
        tunnel = await endpoint.proxy.connect(factory)
        self.tunnel = tunnel

    async def send(self, authorization: bytes | None, probe: bool) -> Answer:
        status, headers = await self.tunnel.ask(self._endpoint.request(authorization))
        challenges = parse_challenges(headers.get(b"proxy-authenticate", []))
        return Answer(status, challenges, headers)

    async def finish(self, answer: Answer) -> bool:
        return self.tunnel.finish(answer.payload)

    def trust(self, scheme: str | None) -> None:
        pass                  # a tunnel carries one origin connection: nothing to reuse


@implementer(IStreamClientEndpoint)
class TunnelEndpoint:
    """Reach `host:port` through the proxy at `proxy_endpoint` with CONNECT,
    authenticating with `exchange` (an `AuthExchange`, or None)."""

    def __init__(self, reactor, proxy_endpoint, host: bytes | str, port: int,
                 exchange: AuthExchange | None = None, *, proxy_name: str = "",
                 answer_timeout: float = 30.0):
        self.reactor = reactor
        self.proxy = proxy_endpoint
        self._host = host.encode() if isinstance(host, str) else host
        self._port = port
        self._exchange = exchange
        self._proxy_name = proxy_name
        self.answer_timeout = answer_timeout

    def request(self, authorization: bytes | None) -> bytes:
        target = b"%s:%d" % (self._host, self._port)
        lines = [b"CONNECT " + target + b" HTTP/1.1", b"Host: " + target]
        if authorization:
            lines.append(b"Proxy-Authorization: " + authorization)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def connect(self, protocol_factory) -> defer.Deferred:
        return defer.ensureDeferred(self._open(protocol_factory))

    async def _open(self, protocol_factory):
        channel = _TunnelChannel(self)
        await channel.renew()
        try:
            answer = await authenticate(self._exchange, channel)
            if answer.status // 100 != 2:
                raise self._status_error(answer.status)
            return channel.tunnel.hand_over(protocol_factory)
        except BaseException:
            if channel.tunnel is not None and not channel.tunnel.lost:
                channel.tunnel.transport.abortConnection()
            raise

    def _status_error(self, status: int):
        what = f"CONNECT to {self._host.decode()}:{self._port}"
        if status == 403:
            return ProxyForbiddenError(403, f"403 from proxy {self._proxy_name}: {what} "
                                       "is not allowed")
        return ProxyTunnelError(status, f"proxy {self._proxy_name} answered {status} to {what}")
