"""The fault proxy on loopback (127.0.0.1 only): bytes through it, live toxics,
down and up, half-close, back-pressure. Every wait is on a Deferred that an
event fires, bounded by trial's timeout; nothing sleeps."""

import random

from twisted.internet import defer, endpoints, error, protocol, reactor, task
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.testing import StringTransport
from twisted.trial import unittest
from zope.interface import implementer

from lab.faults.journal import Journal
from lab.faults.link import Pipe
from lab.faults.proxy import Proxy
from lab.faults.schema import toxic_from_json


@implementer(IHalfCloseableProtocol)
class Echo(protocol.Protocol):
    """Echoes; closes once the client has half-closed (so half-close must pass)."""

    def dataReceived(self, data):
        self.transport.write(data)

    def readConnectionLost(self):
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass

    def connectionLost(self, reason):
        self.factory.lost.append(self)


class Client(protocol.Protocol):
    def __init__(self):
        self.received, self.done = b"", defer.Deferred()

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.reason = reason
        self.done.callback(self.received)


@defer.inlineCallbacks
def until(condition):
    """Reactor turns until `condition()` holds (bounded by the test's timeout)."""
    while not condition():
        yield task.deferLater(reactor, 0, lambda: None)


def held(proxy):
    return sum(s.buffered() for c in proxy.connections for p in c.pipes.values()
               for s in p.stages)


class ProxyTest(unittest.TestCase):
    timeout = 10

    @defer.inlineCallbacks
    def setUp(self):
        factory = protocol.Factory.forProtocol(Echo)
        factory.lost = []
        self.origin = yield endpoints.TCP4ServerEndpoint(
            reactor, 0, interface="127.0.0.1").listen(factory)
        upstream = f"127.0.0.1:{self.origin.getHost().port}"
        self.proxy = Proxy("echo", "127.0.0.1:0", upstream, reactor, random.Random(1))
        self.proxy.start()
        self.clients = []

    @defer.inlineCallbacks
    def tearDown(self):
        for client in self.clients:
            if client.transport.connected:
                client.transport.abortConnection()
        yield defer.gatherResults([c.done for c in self.clients])
        yield self.proxy.stop()
        yield self.origin.stopListening()
        while self.proxy.connections:      # their sockets close on the next turns
            yield task.deferLater(reactor, 0, lambda: None)

    def port(self):
        return int(self.proxy.listen.rpartition(":")[2])

    @defer.inlineCallbacks
    def connect(self):
        client = Client()
        point = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", self.port())
        yield endpoints.connectProtocol(point, client)
        self.clients.append(client)
        return client

    @defer.inlineCallbacks
    def test_fault_free_it_is_invisible_half_close_included(self):
        client = yield self.connect()
        data = bytes(range(256)) * 4096     # 1 MiB, more than any socket buffer
        client.transport.write(data)
        client.transport.loseWriteConnection()
        received = yield client.done
        self.assertEqual(data, received)

    @defer.inlineCallbacks
    def test_a_toxic_reaches_connections_already_open(self):
        client = yield self.connect()
        self.proxy.add_toxic(toxic_from_json({"type": "limit_data", "attributes": {"bytes": 3}}))
        client.transport.write(b"abcdef")
        received = yield client.done
        self.assertEqual(b"abc", received)

    @defer.inlineCallbacks
    def test_removing_toxics_flushes_or_closes_as_toxiproxy(self):
        client = yield self.connect()
        self.proxy.add_toxic(toxic_from_json({"type": "latency", "attributes": {"latency": 60000}}))
        client.transport.write(b"held")
        yield until(lambda: held(self.proxy) == 4)             # the echo is in the latency
        self.proxy.remove_toxic("latency_downstream")         # held bytes go on at once
        self.proxy.add_toxic(toxic_from_json({"type": "timeout", "stream": "upstream"}))
        self.proxy.remove_toxic("timeout_upstream")           # removing a timeout closes
        self.assertEqual(b"held", (yield client.done))

    @defer.inlineCallbacks
    def test_the_journal_pairs_each_connection_and_counts_its_bytes_and_toxics(self):
        client = yield self.connect()
        yield until(lambda: self.proxy.journal.last == 1)
        [opened] = self.proxy.journal.since(0)
        me = client.transport.getHost()
        self.assertEqual((opened["event"], opened["proxy"], opened["client"]),
                         ("open", "echo", f"127.0.0.1:{me.port}"))
        # the fault layer's side towards the upstream: what the upstream sees as its peer
        [upstream_side] = [c.server.transport.getHost() for c in self.proxy.connections]
        self.assertEqual(opened["upstream"], f"127.0.0.1:{upstream_side.port}")
        self.proxy.add_toxic(toxic_from_json({"type": "limit_data", "attributes": {"bytes": 3}}))
        client.transport.write(b"abcdef")
        yield client.done
        yield until(lambda: self.proxy.journal.last == 2)
        [closed] = self.proxy.journal.since(1)
        self.assertEqual((closed["event"], closed["connection"], closed["client"],
                          closed["upstream"], closed["bytes_up"], closed["bytes_down"],
                          closed["toxics"], closed["how"]),
                         ("close", opened["seq"], opened["client"], opened["upstream"], 6, 3,
                          [{"name": "limit_data_downstream", "type": "limit_data",
                            "stream": "downstream"}], "closed"))
        self.assertEqual(self.proxy.journal.since(2), [])

    @defer.inlineCallbacks
    def test_a_toxic_whose_roll_spared_a_connection_is_not_in_its_record(self):
        self.proxy.add_toxic(toxic_from_json({"type": "latency", "toxicity": 0.0,
                                              "attributes": {"latency": 60000}}))
        client = yield self.connect()
        client.transport.write(b"x")
        client.transport.loseWriteConnection()
        self.assertEqual(b"x", (yield client.done))
        yield until(lambda: self.proxy.journal.last == 2)
        self.assertEqual(self.proxy.journal.since(1)[0]["toxics"], [])

    @defer.inlineCallbacks
    def test_an_upstream_that_refuses_is_journaled_as_unreachable(self):
        closed = yield endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            protocol.Factory.forProtocol(protocol.Protocol))
        port = closed.getHost().port
        yield closed.stopListening()                  # nothing listens there now
        self.proxy.upstream = f"127.0.0.1:{port}"
        client = yield self.connect()
        yield client.done
        yield until(lambda: self.proxy.journal.last == 1)
        [event] = self.proxy.journal.since(0)
        self.assertEqual((event["event"], event["connection"], event["how"]),
                         ("close", None, "upstream unreachable"))

    @defer.inlineCallbacks
    def test_reset_peer_is_a_tcp_reset(self):
        self.proxy.add_toxic(toxic_from_json({"type": "reset_peer", "stream": "upstream"}))
        client = yield self.connect()
        client.transport.write(b"x")
        yield client.done
        yield until(lambda: self.proxy.journal.last == 2)
        self.assertEqual(self.proxy.journal.since(1)[0]["how"], "reset")
        # Twisted reports ECONNRESET as a non-clean ConnectionLost (a FIN is ConnectionDone);
        # curl's exit 56 in test_faults_curl shows the RST itself.
        self.assertTrue(client.reason.check(error.ConnectionLost), client.reason)

    @defer.inlineCallbacks
    def test_down_refuses_and_closes_then_up_again(self):
        client = yield self.connect()
        yield self.proxy.update(self.proxy.listen, self.proxy.upstream, enabled=False)
        yield client.done
        point = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", self.port())
        with self.assertRaises(Exception) as caught:
            yield endpoints.connectProtocol(point, Client())
        self.assertIn("refused", str(caught.exception).lower())
        yield self.proxy.update(self.proxy.listen, self.proxy.upstream, enabled=True)
        client = yield self.connect()
        client.transport.write(b"back")
        client.transport.loseWriteConnection()
        self.assertEqual(b"back", (yield client.done))

    @defer.inlineCallbacks
    def test_a_client_outside_the_admitted_networks_is_closed_unserved(self):
        """`clients` (LAB_ALLOW, when published beyond loopback): closed at once, before
        any upstream connection, with a line in the log."""
        import ipaddress

        from twisted.logger import globalLogPublisher

        lines = []
        globalLogPublisher.addObserver(lines.append)
        self.addCleanup(globalLogPublisher.removeObserver, lines.append)
        self.proxy.clients = (ipaddress.ip_network("10.99.0.0/16"),)
        client = yield self.connect()
        client.transport.write(b"hello")
        self.assertEqual(b"", (yield client.done))
        self.assertEqual(set(), self.proxy.connections)
        from twisted.logger import formatEvent

        self.assertIn("refused 127.0.0.1 on echo: not in the admitted networks (LAB_ALLOW)",
                      [formatEvent(event) for event in lines])
        self.proxy.clients = (ipaddress.ip_network("127.0.0.0/8"),)
        allowed = yield self.connect()
        allowed.transport.write(b"hello")
        yield until(lambda: allowed.received == b"hello")


class FakeSide:
    def __init__(self):
        self.transport, self.gone, self.pipe = StringTransport(), False, None


class FakeProxy:
    high_water = 100

    def __init__(self, clock):
        self.reactor, self.rng = clock, random.Random(0)
        self.name, self.journal = "fake", Journal(clock)


class FakeConn:
    def __init__(self, clock):
        self.proxy, self.closed = FakeProxy(clock), False

    def close(self):
        self.closed = True

    def pipe_finished(self):
        pass

    def applied(self, toxic):
        pass


class BackPressureTests(unittest.TestCase):
    """A pipe on StringTransports: it stops reading while its stages hold more
    than high water, or while the destination socket is full."""

    def setUp(self):
        self.clock = task.Clock()
        self.source, self.dest = FakeSide(), FakeSide()
        self.pipe = Pipe(FakeConn(self.clock), "downstream", self.source, self.dest)

    def test_held_bytes_pause_the_source_until_mostly_drained(self):
        self.pipe.append(toxic_from_json({"type": "latency", "attributes": {"latency": 100}}))
        self.pipe.data(b"x" * 60)
        self.assertEqual("producing", self.source.transport.producerState)
        self.clock.advance(0.05)
        self.pipe.data(b"y" * 60)
        self.assertEqual("paused", self.source.transport.producerState)
        self.clock.advance(0.05)        # 60 still held: above the low-water mark (25)
        self.assertEqual("paused", self.source.transport.producerState)
        self.clock.advance(0.05)
        self.assertEqual("producing", self.source.transport.producerState)
        self.assertEqual(b"x" * 60 + b"y" * 60, self.dest.transport.value())

    def test_a_full_destination_pauses_the_source(self):
        self.assertIs(self.pipe, self.dest.transport.producer)
        self.pipe.pauseProducing()
        self.assertEqual("paused", self.source.transport.producerState)
        self.pipe.resumeProducing()
        self.assertEqual("producing", self.source.transport.producerState)

    def test_a_half_close_passes_as_a_half_close(self):
        self.pipe.data(b"last")
        self.pipe.eof(full=False)
        self.assertEqual(b"last", self.dest.transport.value())
        self.assertTrue(self.dest.transport.disconnecting)
        self.assertIsNone(self.dest.transport.producer)


class Collect(protocol.Protocol):
    """The peer: collects what arrives until the other side closes."""

    def connectionMade(self):
        self.received, self.done = b"", defer.Deferred()
        self.factory.peers.append(self)

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.done.callback(self.received)


class WriteNowTests(unittest.TestCase):
    """`write_now` on a real TCP socket: sent in the same reactor turn when nothing is
    queued, queued behind what is, never reordered, never lost."""

    timeout = 10

    @defer.inlineCallbacks
    def setUp(self):
        factory = protocol.Factory.forProtocol(Collect)
        factory.peers = []
        self.listener = yield endpoints.TCP4ServerEndpoint(
            reactor, 0, interface="127.0.0.1").listen(factory)
        self.client = Client()
        point = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1",
                                             self.listener.getHost().port)
        yield endpoints.connectProtocol(point, self.client)
        yield until(lambda: factory.peers)
        self.peer = factory.peers[0]

    @defer.inlineCallbacks
    def tearDown(self):
        if self.client.transport.connected:
            self.client.transport.abortConnection()
        yield self.client.done
        yield self.listener.stopListening()

    def queued(self) -> int:
        transport = self.client.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    @defer.inlineCallbacks
    def finish(self):
        self.client.transport.loseConnection()
        return (yield self.peer.done)

    @defer.inlineCallbacks
    def test_an_idle_socket_takes_the_bytes_at_once(self):
        from lab.faults.link import write_now

        write_now(self.client.transport, b"now")
        self.assertEqual(0, self.queued())         # nothing left for a later turn
        self.assertEqual(b"now", (yield self.finish()))

    @defer.inlineCallbacks
    def test_bytes_behind_queued_ones_wait_their_turn(self):
        from lab.faults.link import write_now

        self.client.transport.write(b"first,")
        write_now(self.client.transport, b"second")
        self.assertEqual(len(b"first,second"), self.queued())
        self.assertEqual(b"first,second", (yield self.finish()))

    @defer.inlineCallbacks
    def test_what_the_socket_cannot_take_is_queued_in_order(self):
        from lab.faults.link import write_now

        big = bytes(range(256)) * 32768            # 8 MiB: more than the socket takes
        write_now(self.client.transport, big)
        self.assertGreater(self.queued(), 0)
        write_now(self.client.transport, b"tail")
        self.assertEqual(big + b"tail", (yield self.finish()))


class RefusedLogTests(unittest.TestCase):
    def test_a_refused_client_is_logged_at_most_every_ten_seconds_per_port(self):
        from twisted.logger import formatEvent, globalLogPublisher

        from lab.faults import proxy

        lines = []
        globalLogPublisher.addObserver(lines.append)
        self.addCleanup(globalLogPublisher.removeObserver, lines.append)
        self.addCleanup(proxy._refused_logged.clear)
        address = type("Address", (), {"host": "203.0.113.9"})()
        for now in (1000.0, 1005.0, 1009.9, 1010.0):
            proxy.refused("web", address, now=now)
        proxy.refused("socks", address, now=1005.0)
        said = [formatEvent(e) for e in lines if "203.0.113.9" in formatEvent(e)]
        line = "refused 203.0.113.9 on {}: not in the admitted networks (LAB_ALLOW)"
        self.assertEqual([line.format("web"), line.format("web"), line.format("socks")], said)
