"""lab.tidy.servers under trial: the seed's scenarios and every clean-up case, per transport.

trial's own dirty-reactor check runs after each test: a clean-up that leaves a
delayed call or a selectable behind fails here even when the test body passed.
The abort of connections that cannot close politely is in test_tidy_clock.py,
timed with `task.Clock`.
"""

import os

from twisted.internet import defer, error, protocol, task
from twisted.spread import pb
from twisted.trial import unittest

from lab.testcases import (
    TCPPbServerTestCase,
    TLSPbServerTestCase,
    UnixPbServerTestCase,
)
from lab.tidy.servers import TidyTCPServer, TidyTLSServer, TidyUnixServer
from tests.tidy_protocols import Echoer, NullProtocol, PortDetectFactory

# -- the seed's PB objects -------------------------------------------------


class Adder(pb.Referenceable):
    def remote_add(self, first, second):
        return first + second


class Calculator(pb.Root):
    def __init__(self, adder):
        self.adder = adder

    def remote_get_adder(self):
        return self.adder


# -- protocols for the clean-up cases --------------------------------------


class Recorder(protocol.Protocol):
    """Remembers its connection state, so a test can wait for it or drop it."""

    def connectionMade(self):
        self.factory.made.append(self)
        self.lost = defer.Deferred()
        waiters, self.factory.waiters = self.factory.waiters, []
        for waiter in waiters:      # a waiter may resume a test that adds new ones
            waiter.callback(self)

    def connectionLost(self, reason):
        self.reason = reason
        self.lost.callback(None)


class RecorderFactory(protocol.Factory):
    protocol = Recorder

    def __init__(self):
        self.made = []
        self.waiters = []

    def next_connection(self):
        """Fires with the next protocol this factory connects (or the last one made)."""
        waiter = defer.Deferred()
        self.waiters.append(waiter)
        return waiter


class ServerDropFactory(protocol.Factory):
    protocol = NullProtocol


class RefusingFactory(protocol.Factory):
    def buildProtocol(self, addr):
        return None


# -- the seed's PB scenarios -------------------------------------------------


class TCPMultipleServersTestCase(unittest.TestCase):
    """The seed: two PB servers side by side, clean-up registered by hand."""

    timeout = 10
    server_class = TidyTCPServer

    def setUp(self):
        self.first_server = self.server_class()
        self.second_server = self.server_class()
        self.calculator = Calculator(Adder())
        self.echoer = Echoer()

    @defer.inlineCallbacks
    def test_single_server(self):
        yield self.first_server.listen_server(pb.PBServerFactory, self.calculator)
        self.addCleanup(self.first_server.clean_up)
        factory = yield self.first_server.connect_client(pb.PBClientFactory)
        calculator = yield factory.getRootObject()
        adder = yield calculator.callRemote("get_adder")
        self.assertEqual(3, (yield adder.callRemote("add", 1, 2)))

    @defer.inlineCallbacks
    def test_multiple_server(self):
        yield self.first_server.listen_server(pb.PBServerFactory, self.calculator)
        self.addCleanup(self.first_server.clean_up)
        yield self.second_server.listen_server(pb.PBServerFactory, self.echoer)
        self.addCleanup(self.second_server.clean_up)
        calculator_c = yield self.first_server.connect_client(pb.PBClientFactory)
        echoer_c = yield self.second_server.connect_client(pb.PBClientFactory)
        calculator = yield calculator_c.getRootObject()
        adder = yield calculator.callRemote("get_adder")
        self.assertEqual(3, (yield adder.callRemote("add", 1, 2)))
        echoer = yield echoer_c.getRootObject()
        self.assertEqual("Echoed: hello", (yield echoer.callRemote("say", "hello")))


class UnixMultipleServersTestCase(TCPMultipleServersTestCase):
    server_class = TidyUnixServer


class TLSMultipleServersTestCase(TCPMultipleServersTestCase):
    server_class = TidyTLSServer


class PbTestCaseMixin:
    """The seed's PbServerTestCase API: listen_server(root), connect_client()."""

    @defer.inlineCallbacks
    def test_calculator(self):
        yield self.listen_server(Calculator(Adder()))
        yield self.connect_client()
        calculator = yield self.client_factory.getRootObject()
        adder = yield calculator.callRemote("get_adder")
        self.assertEqual(5, (yield adder.callRemote("add", 2, 3)))
        self.assertIsNotNone(self.listener)
        self.assertIsNotNone(self.connector)

    @defer.inlineCallbacks
    def test_disconnected_deferreds_fire_after_clean_up(self):
        yield self.listen_server(Echoer())
        yield self.connect_client()
        yield self.tear_down_server_client()
        self.assertTrue(self.server_disconnected.called)
        self.assertTrue(self.client_disconnected.called)


class TCPPbTestCase(PbTestCaseMixin, TCPPbServerTestCase):
    pass


class UnixPbTestCase(PbTestCaseMixin, UnixPbServerTestCase):
    pass


class TLSPbTestCase(PbTestCaseMixin, TLSPbServerTestCase):
    pass


# -- every clean-up case -------------------------------------------------------


class CleanUpCasesMixin:
    """Each test ends with the server's clean-up; trial then checks the reactor."""

    timeout = 10
    server_class = None

    def setUp(self):
        self.server = self.server_class()

    @defer.inlineCallbacks
    def assertCleanedUp(self):
        port = self.server.listener
        yield self.server.clean_up()
        self.assertEqual(0, self.server.connections)
        self.assertIsNone(self.server.listener)
        if port is not None:
            self.assertTrue(port.disconnected if hasattr(port, "disconnected") else True)
        if isinstance(self.server, TidyUnixServer):
            self.assertFalse(os.path.exists(self.server.temp_dir))

    def test_never_listened(self):
        return self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_client_never_connected(self):
        yield self.server.listen_server(RecorderFactory)
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_connected_client(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        yield self.server.connect_client(RecorderFactory)
        yield arrived
        self.assertEqual(2, self.server.connections)
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_client_dropped_before_clean_up(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        client_factory = yield self.server.connect_client(RecorderFactory)
        server_side = yield arrived
        client_side = client_factory.made[0]
        client_side.transport.loseConnection()
        yield defer.gatherResults([client_side.lost, server_side.lost])
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_server_dropped_before_clean_up(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        client_factory = yield self.server.connect_client(RecorderFactory)
        server_side = yield arrived
        server_side.transport.loseConnection()
        yield defer.gatherResults([client_factory.made[0].lost, server_side.lost])
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_client_drops_during_clean_up(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        client_factory = yield self.server.connect_client(RecorderFactory)
        yield arrived
        client_factory.made[0].transport.loseConnection()
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_server_drops_during_clean_up(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        yield self.server.connect_client(RecorderFactory)
        server_side = yield arrived
        server_side.transport.loseConnection()
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_client_drops_in_connection_made(self):
        """The seed's port detector: the bug that hung the original helpers."""
        yield self.server.listen_server(protocol.ServerFactory)
        factory = yield self.server.connect_client(PortDetectFactory)
        self.assertTrue((yield factory.is_listening()))
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_server_drops_in_connection_made(self):
        yield self.server.listen_server(ServerDropFactory)
        client_factory = yield self.server.connect_client(RecorderFactory)
        yield client_factory.made[0].lost
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_server_never_built_a_protocol(self):
        """The client connects and leaves while the server is not accepting:
        no server-side protocol ever exists, and clean-up must not wait for one."""
        server_factory = yield self.server.listen_server(RecorderFactory)
        self.server.listener.stopReading()          # the kernel queues, nobody accepts
        factory = yield self.server.connect_client(PortDetectFactory)
        self.assertTrue((yield factory.is_listening()))
        yield self.assertCleanedUp()
        self.assertEqual([], server_factory.made)

    @defer.inlineCallbacks
    def test_server_factory_refuses_the_connection(self):
        yield self.server.listen_server(RefusingFactory)
        client_factory = yield self.server.connect_client(RecorderFactory)
        yield client_factory.made[0].lost
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_several_clients(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        for _ in range(5):
            arrived = server_factory.next_connection()
            yield self.server.connect_client(RecorderFactory)
            yield arrived
        self.assertEqual(5, len(self.server.clients))
        self.assertEqual(10, self.server.connections)
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_clean_up_twice_at_once(self):
        server_factory = yield self.server.listen_server(RecorderFactory)
        arrived = server_factory.next_connection()
        yield self.server.connect_client(RecorderFactory)
        yield arrived
        first, second = self.server.clean_up(), self.server.clean_up()
        yield defer.gatherResults([first, second])
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_clean_up_twice_in_a_row(self):
        yield self.server.listen_server(RecorderFactory)
        yield self.server.connect_client(RecorderFactory)
        yield self.server.clean_up()
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_clean_up_while_a_client_is_connecting(self):
        yield self.server.listen_server(RecorderFactory)
        connecting = self.server.connect_client(RecorderFactory)
        cleaning = self.server.clean_up()          # before the reactor ran the connect
        yield self.assertFailure(connecting, defer.CancelledError,
                                 error.ConnectingCancelledError)
        yield cleaning
        yield self.assertCleanedUp()

    @defer.inlineCallbacks
    def test_server_is_reusable_after_clean_up(self):
        yield self.server.listen_server(RecorderFactory)
        yield self.server.clean_up()
        yield self.server.listen_server(RecorderFactory)
        yield self.server.connect_client(RecorderFactory)
        yield self.assertCleanedUp()

    def test_connect_before_listen_is_an_error(self):
        return self.assertFailure(self.server.connect_client(RecorderFactory), ValueError)

    @defer.inlineCallbacks
    def test_listener_is_closed_after_clean_up(self):
        yield self.server.listen_server(RecorderFactory)
        endpoint = self.server.client_endpoint()
        yield self.assertCleanedUp()
        yield self.assertFailure(endpoint.connect(protocol.Factory.forProtocol(Recorder)),
                                 error.ConnectError)


class TCPCleanUpTestCase(CleanUpCasesMixin, unittest.TestCase):
    server_class = TidyTCPServer


class UnixCleanUpTestCase(CleanUpCasesMixin, unittest.TestCase):
    server_class = TidyUnixServer


class TLSCleanUpTestCase(CleanUpCasesMixin, unittest.TestCase):
    server_class = TidyTLSServer


# -- stress --------------------------------------------------------------------


class StressMixin:
    """Hundreds of full cycles per transport: no hang, no leak, clean reactor."""

    timeout = 60
    cycles = 300
    server_class = None

    @defer.inlineCallbacks
    def test_many_cycles(self):
        for number in range(self.cycles):
            server = self.server_class()
            yield server.listen_server(pb.PBServerFactory, Echoer())
            factory = yield server.connect_client(pb.PBClientFactory)
            root = yield factory.getRootObject()
            self.assertEqual(f"Echoed: {number}", (yield root.callRemote("say", number)))
            yield server.clean_up()
            self.assertEqual(0, server.connections)
        yield task.deferLater(__import__("twisted.internet.reactor").internet.reactor, 0,
                              lambda: None)


class TCPStressTestCase(StressMixin, unittest.TestCase):
    server_class = TidyTCPServer


class UnixStressTestCase(StressMixin, unittest.TestCase):
    server_class = TidyUnixServer


class TLSStressTestCase(StressMixin, unittest.TestCase):
    server_class = TidyTLSServer
    cycles = 150
