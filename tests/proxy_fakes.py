"""An in-process HTTP proxy for unit tests: squid's authentication behaviour
(Basic per request; NTLM legs bound to a connection that is then trusted; a fake
Negotiate), CONNECT with TLS to a built-in origin, and hostile modes."""

from __future__ import annotations

import base64

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor

from lab.proxy import ProxyWebClient
from lab.tidy.tls import make_self_signed

ORIGIN = make_self_signed(("origin.test",))
USER, PASSWORD = "alice", "Pw-1234"
NTLM_USER = f"AD\\{USER}"
OFFERS = {"basic": [b'Basic realm="fake"'], "ntlm": [b"NTLM"], "negotiate": [b"Negotiate"]}


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
        self.factory.open.append(self)
        self.buffer = b""
        self.ntlm = None
        self.trusted = False
        self.origin = False               # after CONNECT: we are the TLS origin

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
            self.transport.registerProducer(_Flood(self.transport, factory), False)
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
            self.transport.startTLS(factory.origin_certificate.server_options())
        else:
            self.send(b"200 OK", body=b"proxied " + target)

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
                challenge = b"garbage-garbage-garbage-garbage"
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
        self.factory.open.remove(self)
        if self.factory.lost is not None:
            self.factory.lost.callback(None)
            self.factory.lost = None


class _Flood:
    """Header lines without end, written as fast as the client reads them."""

    def __init__(self, transport, factory):
        self.transport, self.factory = transport, factory

    def resumeProducing(self):
        self.factory.sent += 4080
        self.transport.write((b"X-More: " + b"m" * 58 + b"\r\n") * 60)

    def stopProducing(self):
        pass


class FakeProxyFactory(protocol.Factory):
    protocol = ProxyProtocol

    def __init__(self, offered=(b'Basic realm="fake"',), mode: str = "normal"):
        self.offered = list(offered)
        self.mode = mode
        self.origin_certificate = ORIGIN     # what the TLS origin presents (a bump: re-signed)
        self.password = PASSWORD
        self.requests: list = []
        self.connections = 0
        self.challenged = 0
        self.handshakes = 0
        self.refuse_next = 0
        self.sent = 0
        self.on_request = None
        self.lost = None              # a Deferred fired when a connection closes
        self.open: list[ProxyProtocol] = []


# -- fixtures (test modules load this file with `pytest_plugins`) ------------------


@pytest.fixture(autouse=True)
def ntlm_users(tmp_path, monkeypatch):
    """pyspnego's NTLM acceptor (the fake proxy's) reads its users from this file."""
    users = tmp_path / "ntlm-users"
    users.write_text(f"AD:{USER}:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))


@pytest.fixture
def make_proxy(tidy_tcp_server):
    """Fires with a listening FakeProxyFactory (its `port` set); `yield` it."""
    def listening(factory):
        factory.port = tidy_tcp_server.listener.getHost().port
        return factory

    def make(offered=OFFERS["basic"], mode="normal"):
        return tidy_tcp_server.listen_server(FakeProxyFactory, offered, mode).addCallback(
            listening)
    return make


@pytest.fixture
def clients():
    made = []

    def make(proxy, user=USER, password=PASSWORD, schemes=None):
        client = ProxyWebClient("127.0.0.1", proxy.port, user, password,
                                trust_root=ORIGIN.trust_root(), reactor=reactor)
        if schemes is not None:
            client.agent.auth._schemes = schemes
        made.append(client)
        return client

    yield make
    for client in made:
        pytest_twisted.blockon(client.shutdown())
