"""`SOCKS5Endpoint`: reach host:port through a SOCKS5 proxy (RFC 1928), with
username/password authentication (RFC 1929) when credentials are given.

Names go to the proxy unresolved (ATYP 3, what curl calls `socks5h`): a lab
name such as `web.ad.example.com` resolves inside the lab, where the proxy is,
and never on this host. IPv4 and IPv6 literals are sent as addresses.

Like `TunnelEndpoint` for CONNECT, only a successful reply hands the raw
connection to the caller's protocol (typically TLS, via `wrapClientTLS`), so
it works as the endpoint of an `Agent` or of our `ProxyAgent` (an HTTP proxy
reached through SOCKS). Every failure is a `lab.proxy` error: the proxy's REP
code with its meaning (`SOCKSConnectError`), refused credentials
(`ProxyAuthenticationError`), an answer that is not SOCKS5
(`ProxyProtocolError`), a close mid-handshake (`ProxyConnectionLostError`), a
silent proxy (`RequestTimeoutError` after `answer_timeout` s), nothing at the
address (`ProxyUnreachableError`).
"""

from __future__ import annotations

import ipaddress
import struct

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

from lab.proxy.challenges import Credentials
from lab.proxy.errors import (
    ProxyAuthenticationError,
    ProxyConnectionLostError,
    ProxyProtocolError,
    RequestTimeoutError,
    SOCKSConnectError,
    translate,
)
from lab.proxy.tunnel import hand_over

NO_AUTH, USERNAME_PASSWORD, NO_ACCEPTABLE = 0x00, 0x02, 0xFF
#: RFC 1928 section 6: what each failure reply means.
REPLIES = {1: "general SOCKS server failure", 2: "connection not allowed by ruleset",
           3: "network unreachable", 4: "host unreachable", 5: "connection refused",
           6: "TTL expired", 7: "command not supported", 8: "address type not supported"}
_ADDRESS_LENGTH = {1: 4, 4: 16}


def connect_request(host: str, port: int) -> bytes:
    """The CONNECT request for host:port: an address literal as such, a name as ATYP 3."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        name = host.encode("idna")
        if not 0 < len(name) <= 255:
            raise ValueError(f"a SOCKS5 host name is 1 to 255 bytes, not {len(name)}") from None
        target = b"\x03" + bytes([len(name)]) + name
    else:
        target = (b"\x01" if address.version == 4 else b"\x04") + address.packed
    return b"\x05\x01\x00" + target + struct.pack("!H", port)


class _SOCKS5Protocol(protocol.Protocol):
    """Greeting, authentication and CONNECT; then a pass-through to the inner protocol."""

    def __init__(self, endpoint: SOCKS5Endpoint):
        self._endpoint = endpoint
        self._buffer = b""
        self._stage = "the greeting"
        self._inner: protocol.Protocol | None = None
        self._timer = None
        self.ready: defer.Deferred = defer.Deferred()
        self.lost = False
        self.gone: defer.Deferred = defer.Deferred()     # fires once the connection is closed

    def connectionMade(self) -> None:
        endpoint = self._endpoint
        self._timer = endpoint.reactor.callLater(endpoint.answer_timeout, self._timed_out)
        methods = [NO_AUTH] + ([USERNAME_PASSWORD] if endpoint.credentials else [])
        self.transport.write(bytes([5, len(methods), *methods]))

    def dataReceived(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.dataReceived(data)
            return
        self._buffer += data
        try:
            while self.ready is not None and not self.ready.called and self._step():
                pass
        except (ProxyAuthenticationError, ProxyProtocolError, SOCKSConnectError) as exc:
            self._fail(exc)

    def _take(self, size: int) -> bytes | None:
        if len(self._buffer) < size:
            return None
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _step(self) -> bool:
        """Consume one complete answer, if buffered; False when more bytes are needed."""
        name = self._endpoint.proxy_name
        if self._stage == "the greeting":
            answer = self._take(2)
            if answer is None:
                return False
            if answer[0] != 5:
                raise ProxyProtocolError(f"{name} is not a SOCKS5 proxy: it answered the "
                                         f"greeting with {(answer + self._buffer)[:40]!r}")
            return self._method(answer[1])
        if self._stage == "authentication":
            answer = self._take(2)
            if answer is None:
                return False
            if answer[1] != 0:
                raise ProxyAuthenticationError(
                    None, f"SOCKS proxy {name} refused the user name and password "
                    f"(RFC 1929 status {answer[1]})", ("username/password",))
            return self._send_connect()
        return self._connect_reply()

    def _method(self, method: int) -> bool:
        name, credentials = self._endpoint.proxy_name, self._endpoint.credentials
        if method == NO_AUTH:
            return self._send_connect()
        if method == USERNAME_PASSWORD and credentials:
            user, password = credentials.username.encode(), credentials.password.encode()
            if not (0 < len(user) <= 255 and 0 < len(password) <= 255):
                raise ProxyAuthenticationError(None, "SOCKS5 user names and passwords are "
                                               "1 to 255 bytes (RFC 1929)")
            self._stage = "authentication"
            self.transport.write(bytes([1, len(user)]) + user + bytes([len(password)])
                                 + password)
            return True
        if method == NO_ACCEPTABLE:
            needed = ("none of the offered methods (no authentication, username/password)"
                      if credentials else "no authentication: it requires credentials")
            raise ProxyAuthenticationError(None, f"SOCKS proxy {name} accepts {needed}",
                                           ("username/password",) if not credentials else ())
        raise ProxyProtocolError(f"SOCKS proxy {name} chose method {method:#04x}, "
                                 "which was not offered")

    def _send_connect(self) -> bool:
        self._stage = "CONNECT"
        self.transport.write(self._endpoint.request)
        return True

    def _connect_reply(self) -> bool:
        head = self._buffer[:5]
        if len(head) >= 2 and head[0] != 5:
            raise ProxyProtocolError(f"malformed SOCKS5 reply to CONNECT: {head!r}")
        if len(head) >= 2 and head[1] != 0:
            meaning = REPLIES.get(head[1], "unassigned reply code")
            raise SOCKSConnectError(head[1], meaning, f"SOCKS proxy {self._endpoint.proxy_name}"
                                    f" refused CONNECT to {self._endpoint.target}: "
                                    f"{meaning} (REP {head[1]})")
        if len(head) < 5:
            return False
        if head[3] not in (1, 3, 4):
            raise ProxyProtocolError(f"SOCKS5 reply with unknown address type {head[3]}")
        size = 4 + (head[4] + 1 if head[3] == 3 else _ADDRESS_LENGTH[head[3]]) + 2
        if self._take(size) is None:
            return False
        self._timer.cancel()
        self.ready.callback(self)
        return False

    def hand_over(self, factory: protocol.Factory) -> protocol.Protocol:
        self._inner = hand_over(self, factory)
        return self._inner

    def _timed_out(self) -> None:
        self._fail(RequestTimeoutError(f"SOCKS proxy {self._endpoint.proxy_name} did not "
                                       f"finish {self._stage} within "
                                       f"{self._endpoint.answer_timeout} s"))

    def _fail(self, exc: Exception) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if not self.lost:
            self.transport.abortConnection()
        if not self.ready.called:
            self.ready.errback(exc)

    def connectionLost(self, reason) -> None:
        self.lost = True
        try:
            if self._inner is not None:
                self._inner.connectionLost(reason)
                return
            self._fail(ProxyConnectionLostError(f"SOCKS proxy {self._endpoint.proxy_name} "
                                                f"closed the connection during {self._stage}"))
        finally:
            self.gone.callback(None)


@implementer(IStreamClientEndpoint)
class SOCKS5Endpoint:
    """Reach `host:port` through the SOCKS5 proxy at `proxy_endpoint`, with
    `credentials` (a `Credentials`, or None for no authentication)."""

    def __init__(self, reactor, proxy_endpoint, host: str | bytes, port: int,
                 credentials: Credentials | None = None, *, proxy_name: str = "",
                 answer_timeout: float = 30.0):
        self.reactor = reactor
        self.proxy = proxy_endpoint
        host = host.decode("idna") if isinstance(host, bytes) else host
        self.request = connect_request(host, port)
        self.target = f"{host}:{port}"
        self.credentials = credentials
        self.proxy_name = proxy_name or "(SOCKS)"
        self.answer_timeout = answer_timeout

    def __repr__(self) -> str:
        return f"SOCKS5Endpoint({self.target} via {self.proxy_name}, {self.credentials!r})"

    def connect(self, protocol_factory) -> defer.Deferred:
        return defer.ensureDeferred(self._open(protocol_factory))

    async def _open(self, protocol_factory):
        try:
            socks = await self.proxy.connect(
                protocol.Factory.forProtocol(lambda: _SOCKS5Protocol(self)))
        except Exception as exc:
            raise translate(exc, self.proxy_name, f"SOCKS5 CONNECT to {self.target}") from None
        try:
            await socks.ready
        except defer.CancelledError:
            socks.transport.abortConnection()
            raise
        return socks.hand_over(protocol_factory)
