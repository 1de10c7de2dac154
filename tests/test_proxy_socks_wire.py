"""The SOCKS5 handshake byte by byte, in memory: `StringTransport` for the wire,
`task.Clock` for the timeout. No sockets, no real time."""

import pytest
from twisted.internet import defer, protocol, task
from twisted.internet.testing import StringTransport

from lab.proxy import Credentials, RequestTimeoutError, SOCKS5Endpoint
from lab.proxy.errors import ProxyConnectionLostError, SOCKSConnectError
from lab.proxy.socks import connect_request


class _WireEndpoint:
    """An endpoint whose connection is a StringTransport the test reads and feeds."""

    def __init__(self):
        self.transport = StringTransport()
        self.protocol = None

    def connect(self, factory):
        self.protocol = factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        return defer.succeed(self.protocol)

    def sent(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data


class _Inner(protocol.Protocol):
    def __init__(self):
        self.received = b""

    def dataReceived(self, data):
        self.received += data


def _open(credentials=None, host="web.ad.example.com", port=443, timeout=30.0):
    clock, wire = task.Clock(), _WireEndpoint()
    endpoint = SOCKS5Endpoint(clock, wire, host, port, credentials, proxy_name="socks:1080",
                              answer_timeout=timeout)
    inner = _Inner()
    d = endpoint.connect(protocol.Factory.forProtocol(lambda: inner))
    return clock, wire, d, inner


def test_connect_requests():
    assert connect_request("web.ad.example.com", 443) == (
        b"\x05\x01\x00\x03\x12web.ad.example.com\x01\xbb")
    assert connect_request("10.1.2.3", 80) == b"\x05\x01\x00\x01\x0a\x01\x02\x03\x00\x50"
    assert connect_request("[::1]", 80) == b"\x05\x01\x00\x04" + bytes(15) + b"\x01\x00\x50"
    with pytest.raises(ValueError, match="1 to 255 bytes"):
        connect_request("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".e", 1)


def test_full_handshake_fed_one_byte_at_a_time():
    clock, wire, d, inner = _open(Credentials("carol", "Hazel+Nut-31"))
    assert wire.sent() == b"\x05\x02\x00\x02"
    wire.protocol.dataReceived(b"\x05")
    wire.protocol.dataReceived(b"\x02")
    assert wire.sent() == b"\x01\x05carol\x0cHazel+Nut-31"
    for byte in b"\x01\x00":
        wire.protocol.dataReceived(bytes([byte]))
    assert wire.sent() == connect_request("web.ad.example.com", 443)
    reply = b"\x05\x00\x00\x03\x05proxy\x04\x38" + b"early origin bytes"
    for byte in reply[:-18]:
        assert not d.called
        wire.protocol.dataReceived(bytes([byte]))
    wire.protocol.dataReceived(reply[-18:])
    assert d.called and d.result is inner
    assert inner.received == b"early origin bytes"
    assert clock.getDelayedCalls() == []            # the timer is gone once open


def test_ipv6_bound_address_in_the_reply_is_skipped_whole():
    clock, wire, d, inner = _open()
    wire.protocol.dataReceived(b"\x05\x00")
    wire.protocol.dataReceived(b"\x05\x00\x00\x04" + bytes(16) + b"\x00\x50HTTP")
    assert d.result is inner and inner.received == b"HTTP"


def test_refusal_arrives_before_the_rest_of_the_reply():
    clock, wire, d, _ = _open()
    wire.protocol.dataReceived(b"\x05\x00")
    wire.protocol.dataReceived(b"\x05\x04")
    failure = []
    d.addErrback(failure.append)
    assert failure[0].check(SOCKSConnectError)
    assert failure[0].value.reply == 4 and "host unreachable" in str(failure[0].value)
    assert wire.transport.disconnecting or wire.transport.disconnected


@pytest.mark.parametrize("answered,stage", [
    (b"", "the greeting"), (b"\x05\x00", "CONNECT"), (b"\x05\x00\x05\x00\x00", "CONNECT")])
def test_a_silent_proxy_times_out_on_the_clock(answered, stage):
    clock, wire, d, _ = _open(timeout=30.0)
    if answered:
        wire.protocol.dataReceived(answered)
    clock.advance(29.9)
    assert not d.called
    clock.advance(0.2)
    failure = []
    d.addErrback(failure.append)
    assert failure[0].check(RequestTimeoutError)
    assert f"did not finish {stage} within 30.0 s" in str(failure[0].value)


def test_lost_mid_authentication():
    clock, wire, d, _ = _open(Credentials("carol", "x-Y-z-1234"))
    wire.protocol.dataReceived(b"\x05\x02")
    wire.protocol.connectionLost(None)
    failure = []
    d.addErrback(failure.append)
    assert failure[0].check(ProxyConnectionLostError)
    assert "during authentication" in str(failure[0].value)
    assert clock.getDelayedCalls() == []


def test_cancel_aborts_the_connection():
    clock, wire, d, _ = _open()
    d.cancel()
    d.addErrback(lambda f: f.trap(defer.CancelledError))
    assert wire.transport.disconnecting or wire.transport.disconnected
    wire.protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []
