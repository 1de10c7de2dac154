"""An in-process SOCKS5 server for unit tests (RFC 1928 + RFC 1929), like the lab's
dante: username/password against a user table, names resolved by the server
(from its own table, never DNS), CONNECT only to 127.0.0.1, plus hostile modes.

It is checked against third-party clients (pysocks, curl) in test_socks_fake.py,
so our client is tested against a server that real clients agree with.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, protocol, reactor

SOCKS_USER, SOCKS_PASSWORD = "carol", "Hazel+Nut-31"
#: Names the server resolves itself: clients never need to (socks5h).
NAMES = {"origin.test": "127.0.0.1", "web.lab.test": "127.0.0.1", "localhost": "127.0.0.1"}


class _Relay(protocol.Protocol):
    """The server's connection to the target: bytes go straight back to the client."""

    def __init__(self, client: SOCKS5Server):
        self.client = client
        self.gone: defer.Deferred = defer.Deferred()

    def dataReceived(self, data):
        self.client.transport.write(data)

    def connectionLost(self, reason):
        self.client.transport.loseConnection()
        self.gone.callback(None)


class SOCKS5Server(protocol.Protocol):
    def connectionMade(self):
        self.buffer = b""
        self.stage = "greeting"
        self.relay: _Relay | None = None

    def dataReceived(self, data):
        if self.relay is not None:
            self.relay.transport.write(data)
            return
        self.buffer += data
        while self.relay is None and self.stage != "waiting" and self.step():
            pass

    def take(self, size):
        if len(self.buffer) < size:
            return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def step(self) -> bool:
        factory = self.factory
        if self.stage == "greeting":
            if len(self.buffer) < 2 or len(self.buffer) < 2 + self.buffer[1]:
                return False
            count = self.buffer[1]
            methods = list(self.take(2 + count)[2:])
            factory.offered.append(methods)
            if factory.mode == "close-after-greeting":
                self.transport.loseConnection()
                return False
            if factory.mode == "garbage":
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                return False
            if factory.mode == "silent":
                return False
            wanted = 2 if factory.users is not None else 0
            if factory.mode == "choose-gssapi":
                wanted = 1
            self.transport.write(bytes([5, wanted if wanted in methods or wanted == 1
                                        else 0xFF]))
            if wanted not in methods and wanted != 1:
                self.transport.loseConnection()
                return False
            self.stage = "auth" if wanted == 2 else "request"
            return True
        if self.stage == "auth":
            buf = self.buffer
            if len(buf) < 2 or len(buf) < 3 + buf[1] or len(buf) < 3 + buf[1] + buf[2 + buf[1]]:
                return False
            user = self.take(2 + buf[1])[2:].decode()
            password = self.take(1 + self.buffer[0])[1:].decode()
            factory.logins.append(user)
            ok = factory.users.get(user) == password
            self.transport.write(b"\x01" + (b"\x00" if ok else b"\x01"))
            if not ok:
                self.transport.loseConnection()
                return False
            self.stage = "request"
            return True
        return self.request()

    def request(self) -> bool:
        buf = self.buffer
        if len(buf) < 5:
            return False
        atyp = buf[3]
        size = {1: 4, 4: 16}.get(atyp, buf[4] + 1)
        if len(buf) < 4 + size + 2:
            return False
        raw = self.take(4 + size + 2)
        port = struct.unpack("!H", raw[-2:])[0]
        if atyp == 3:
            host = raw[5:-2].decode()
        else:
            host = str(ipaddress.ip_address(raw[4:-2]))
        self.factory.requests.append((atyp, host, port))
        mode = self.factory.mode
        if mode == "close-before-reply":
            self.transport.loseConnection()
            return False
        if mode.startswith("reply-"):
            return self.reply(int(mode.split("-")[1]))
        address = NAMES.get(host, host) if atyp == 3 else host
        if atyp == 3 and host not in NAMES:
            return self.reply(4)                       # host unreachable
        if address != "127.0.0.1":
            return self.reply(2)                       # not allowed by ruleset
        self.stage = "waiting"
        target = endpoints.TCP4ClientEndpoint(reactor, address, port, timeout=5)
        target.connect(protocol.Factory.forProtocol(lambda: _Relay(self))).addCallbacks(
            self.target_connected, lambda _: self.reply(5))
        return False

    def reply(self, code: int, port: int = 0) -> bool:
        self.transport.write(bytes([5, code, 0, 1, 127, 0, 0, 1]) + struct.pack("!H", port))
        if code:
            self.transport.loseConnection()
        return False

    def target_connected(self, relay: _Relay):
        self.factory.relays.append(relay)
        if not self.transport.connected:
            relay.transport.abortConnection()
            return
        self.relay = relay
        self.reply(0, relay.transport.getHost().port)
        if self.buffer:
            data, self.buffer = self.buffer, b""
            relay.transport.write(data)

    def connectionLost(self, reason):
        if self.relay is not None:
            self.relay.transport.loseConnection()


class SOCKS5ServerFactory(protocol.Factory):
    protocol = SOCKS5Server

    def __init__(self, users: dict[str, str] | None = None, mode: str = "normal"):
        self.users = users
        self.mode = mode
        self.offered: list[list[int]] = []
        self.logins: list[str] = []
        self.requests: list[tuple[int, str, int]] = []
        self.relays: list[_Relay] = []

    def all_closed(self) -> defer.Deferred:
        return defer.gatherResults([r.gone for r in self.relays])


@pytest.fixture
def make_socks():
    """Fires with a listening SOCKS5ServerFactory (its `port` set); `yield` it. Each
    has its own tidy server; at the end, they and every relay connection are closed."""
    from lab.tidy.servers import TidyTCPServer

    made: list[tuple[TidyTCPServer, SOCKS5ServerFactory]] = []

    def make(users=None, mode="normal"):
        server = TidyTCPServer()

        def listening(factory):
            factory.port = server.listener.getHost().port
            made.append((server, factory))
            return factory

        return server.listen_server(SOCKS5ServerFactory, users, mode).addCallback(listening)

    yield make
    for server, factory in made:
        pytest_twisted.blockon(server.clean_up())
        for relay in factory.relays:
            relay.transport.loseConnection()
        pytest_twisted.blockon(factory.all_closed())
