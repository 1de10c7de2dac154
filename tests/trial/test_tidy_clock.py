"""lab.tidy.servers's abort timing, driven by `task.Clock` instead of wall time.

Clean-up gives each connection `servers.ABORT_AFTER` seconds to close politely,
then aborts it. Here the reactor is a `MemoryReactorClock` (no sockets) or the
real reactor with a `Clock` for timed calls, so the tests say exactly when the
abort happens and never wait for it in real time.
"""

from twisted.internet import defer, error, protocol, task
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from lab.tidy import servers
from lab.tidy.servers import TidyTCPServer, TidyTLSServer, TidyUnixServer


class _ManualTransport(StringTransport):
    """A transport that closes only when the test says so (`finish_close`) or
    when aborted: a peer that never reads, under the test's control."""

    def __init__(self):
        super().__init__()
        self.aborted = False

    def abortConnection(self):
        self.aborted = True
        self.finish_close(error.ConnectionAborted())

    def finish_close(self, reason=None):
        self.protocol.connectionLost(Failure(reason or error.ConnectionDone()))


class ClockAbortTests(unittest.TestCase):
    """Clean-up's grace period, second by second, on a fake reactor."""

    def setUp(self):
        self.clock = MemoryReactorClock()
        self.server = TidyTCPServer(reactor=self.clock)

    @defer.inlineCallbacks
    def connect(self):
        """Listen (on the fake reactor) and hand the server one fake connection."""
        yield self.server.listen_server(protocol.Factory.forProtocol, protocol.Protocol)
        tracking = self.clock.tcpServers[0][1]
        wrapper = tracking.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = _ManualTransport()
        wrapper.makeConnection(transport)
        transport.protocol = wrapper
        self.assertEqual(1, self.server.connections)
        return transport

    @defer.inlineCallbacks
    def test_no_connections_means_no_timer(self):
        yield self.server.listen_server(protocol.Factory.forProtocol, protocol.Protocol)
        cleaning = self.server.clean_up()
        self.assertEqual([], self.clock.getDelayedCalls())
        self.assertTrue(cleaning.called)
        yield cleaning

    @defer.inlineCallbacks
    def test_stubborn_connection_is_aborted_exactly_at_abort_after(self):
        transport = yield self.connect()
        cleaning = self.server.clean_up()
        self.assertTrue(transport.disconnecting, "loseConnection() was not asked first")
        self.clock.advance(servers.ABORT_AFTER - 0.001)
        self.assertFalse(transport.aborted)
        self.assertFalse(cleaning.called)
        self.clock.advance(0.001)
        self.assertTrue(transport.aborted)
        self.assertTrue(cleaning.called)
        self.assertEqual(0, self.server.connections)
        self.assertEqual([], self.clock.getDelayedCalls())
        yield cleaning

    @defer.inlineCallbacks
    def test_polite_close_cancels_the_abort_timer(self):
        transport = yield self.connect()
        cleaning = self.server.clean_up()
        self.assertEqual(1, len(self.clock.getDelayedCalls()))
        self.clock.advance(servers.ABORT_AFTER / 2)
        transport.finish_close()
        self.assertTrue(cleaning.called)
        self.assertEqual([], self.clock.getDelayedCalls())
        self.clock.advance(servers.ABORT_AFTER)
        self.assertFalse(transport.aborted)
        yield cleaning


class _ClockedReactor:
    """The real reactor for I/O, a `task.Clock` for timed calls: real sockets,
    with the abort timer under the test's control."""

    def __init__(self, reactor, clock: task.Clock):
        self._reactor = reactor
        self.callLater = clock.callLater

    def __getattr__(self, name):
        return getattr(self._reactor, name)


class _Stubborn(protocol.Protocol):
    """Stops reading and writes more than the peer's buffers hold: with one of
    these at each end, no `loseConnection()` can ever complete."""

    def connectionMade(self):
        self.transport.pauseProducing()
        self.transport.write(b"x" * (64 * 1024 * 1024))
        self.factory.made.callback(None)


class _StubbornFactory(protocol.Factory):
    protocol = _Stubborn

    def __init__(self):
        self.made = defer.Deferred()


class RealSocketAbortMixin:
    """On real sockets: nothing closes politely, the clock's abort closes everything."""

    timeout = 20
    server_class = None

    @defer.inlineCallbacks
    def test_connection_that_cannot_close_politely_is_aborted(self):
        from twisted.internet import reactor

        clock = task.Clock()
        server = self.server_class(reactor=_ClockedReactor(reactor, clock))
        server_factory = yield server.listen_server(_StubbornFactory)
        yield server.connect_client(_StubbornFactory)
        yield server_factory.made        # the server accepted: both ends exist
        self.assertEqual(2, server.connections)
        cleaning = server.clean_up()
        for _ in range(3):      # let the reactor run: a polite close would land here
            yield task.deferLater(reactor, 0, lambda: None)
        self.assertFalse(cleaning.called)
        self.assertEqual([servers.ABORT_AFTER], [c.getTime() for c in clock.getDelayedCalls()])
        clock.advance(servers.ABORT_AFTER)
        yield cleaning
        self.assertEqual(0, server.connections)
        self.assertIsNone(server.listener)


class TCPRealSocketAbortTests(RealSocketAbortMixin, unittest.TestCase):
    server_class = TidyTCPServer


class UnixRealSocketAbortTests(RealSocketAbortMixin, unittest.TestCase):
    server_class = TidyUnixServer


class TLSRealSocketAbortTests(RealSocketAbortMixin, unittest.TestCase):
    server_class = TidyTLSServer
