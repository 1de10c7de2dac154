"""An in-process HTTP proxy for unit tests: squid's authentication behaviour
(Basic per request; NTLM legs bound to a connection that is then trusted; a fake
Negotiate), CONNECT with TLS to a built-in origin, and hostile modes."""

from __future__ import annotations

import base64
import contextlib

from twisted.internet import protocol, task

from lab.tls import make_self_signed

ORIGIN = make_self_signed(("origin.test",))
USER, PASSWORD = "alice", "Pw-1234"


class FakeNegotiate:
    """A stand-in for Kerberos: a fresh token per header(), as an AP-REQ would be."""

    scheme = "negotiate"
    connection_bound = False
    made = 0

    def __init__(self, credentials, service_host):
        self._service_host = service_host

    def header(self) -> bytes:
        FakeNegotiate.made += 1
        token = f"krb:{USER}:HTTP/{self._service_host}:{FakeNegotiate.made}".encode()
        return b"Negotiate " + base64.b64encode(token)

    def step(self, challenge):
        raise AssertionError("fake Negotiate has one leg")


def fake_negotiate(credentials, service_host):
    return FakeNegotiate(credentials, service_host)


class ProxyProtocol(protocol.Protocol):
    def connectionMade(self):
        self.factory.connections += 1
        self.buffer = b""
        self.ntlm = None
        self.trusted = False
        self.origin = False               # after CONNECT: we are the TLS origin
        self.writer = None

    def dataReceived(self, data):
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            lines = head.split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.handle(method, target, headers)

    def send(self, status: bytes, headers=(), body=b""):
        lines = [b"HTTP/1.1 " + status] + [name + b": " + value for name, value in headers]
        lines.append(b"Content-Length: %d" % len(body))
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)

    def handle(self, method, target, headers):
        factory = self.factory
        if self.origin:
            self.send(b"200 OK", body=b"origin " + target)
            return
        factory.requests.append((method, target, headers.get(b"proxy-authorization")))
        if factory.on_request is not None:
            factory.on_request.callback(None)
            factory.on_request = None
        if factory.mode == "silent":
            return
        if factory.mode == "garbage-status":
            self.transport.write(b"HELLO garbage\r\n\r\n")
            return
        if factory.mode in ("endless-headers", "long-line"):
            self.transport.write(b"HTTP/1.1 200 OK\r\n")
            if factory.mode == "long-line":
                self.transport.write(b"X-Long: " + b"a" * 20000 + b"\r\n")
                return
            self.writer = task.cooperate(self._endless())
            return
        challenges = self.check(headers.get(b"proxy-authorization"))
        if challenges:
            factory.challenged += 1
            self.send(b"407 Proxy Authentication Required",
                      [(b"Proxy-Authenticate", c) for c in challenges], b"auth needed")
        elif method == b"CONNECT":
            self.transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if factory.mode == "close-after-connect":
                self.transport.loseConnection()
                return
            self.origin = True
            self.transport.startTLS(ORIGIN.server_options())
        else:
            self.send(b"200 OK", body=b"proxied " + target)

    def _endless(self):
        while self.transport.connected and not self.transport.disconnecting:
            self.factory.sent += 4096
            self.transport.write((b"X-More: " + b"m" * 60 + b"\r\n") * 60)
            yield None

    def check(self, authorization: bytes | None) -> list[bytes]:
        """The challenges to answer with, or [] when the request may pass."""
        factory = self.factory
        offered = factory.offered
        if not offered or (self.trusted and not authorization):
            return []
        scheme, _, token = (authorization or b"").partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic" and any(o.lower().startswith(b"basic") for o in offered):
            pair = f"{USER}:{factory.password}".encode()
            return [] if base64.b64decode(token) == pair else offered
        if scheme == b"negotiate" and b"Negotiate" in offered:
            return [] if base64.b64decode(token).startswith(f"krb:{USER}:".encode()) \
                else offered
        if scheme == b"ntlm" and b"NTLM" in offered:
            return self.ntlm_leg(base64.b64decode(token))
        return offered

    def ntlm_leg(self, token: bytes) -> list[bytes]:
        import spnego

        factory = self.factory
        if token[8:9] == b"\x01":                      # NEGOTIATE_MESSAGE
            self.ntlm = spnego.server(protocol="ntlm")
            challenge = self.ntlm.step(token)
            if factory.mode == "garbage-ntlm":
                challenge = b"NTLMSSP\x00\x02\x00\x00\x00" + b"\xff" * 40
            factory.handshakes += 1
            return [b"NTLM " + base64.b64encode(challenge)]
        if token[8:9] == b"\x03" and self.ntlm is not None:   # AUTHENTICATE_MESSAGE
            ntlm, self.ntlm = self.ntlm, None
            if factory.refuse_next:
                factory.refuse_next -= 1
                return [b"NTLM"]
            try:
                ntlm.step(token)
            except Exception:
                return [b"NTLM"]
            self.trusted = True
            return []
        return [b"NTLM"]

    def connectionLost(self, reason):
        if self.writer is not None:
            with contextlib.suppress(task.TaskDone):
                self.writer.stop()


class FakeProxyFactory(protocol.Factory):
    protocol = ProxyProtocol

    def __init__(self, offered=(b'Basic realm="fake"',), mode: str = "normal"):
        self.offered = list(offered)
        self.mode = mode
        self.password = PASSWORD
        self.requests: list = []
        self.connections = 0
        self.challenged = 0
        self.handshakes = 0
        self.refuse_next = 0
        self.sent = 0
        self.on_request = None
