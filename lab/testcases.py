"""trial base classes: tidy servers with clean-up registered for you.

Names, attributes and call shapes follow the original helpers
(`ServerTestCase.listen_server(...)`, `.connect_client(...)`,
`.server_factory`, `.client_factory`, `.listener`, `.connector`,
`.server_disconnected`, `.client_disconnected`), so tests port by changing
imports.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.spread import pb
from twisted.trial import unittest

from lab.tidy import TidyTCPServer, TidyTLSServer, TidyUnixServer


class ServerTestCase(unittest.TestCase):
    """Base test case for tidy servers; subclasses return one from `get_server()`."""

    #: trial fails a test that runs longer than this, instead of hanging the suite.
    timeout = 10

    def setUp(self):
        super().setUp()
        try:
            self.server_runner = self.get_server()
        except NotImplementedError:
            self.server_runner = None
        self.server_factory = None
        self.client_factory = None
        self.server_disconnected = None
        self.client_connected = None
        self.client_disconnected = None
        self.listener = None
        self.connector = None
        self.addCleanup(self.tear_down_server_client)

    def get_server(self):
        """Return the tidy server the tests use."""
        raise NotImplementedError("To be implemented by child classes.")

    @defer.inlineCallbacks
    def listen_server(self, server_class, *args, **kwargs):
        """Listen with `server_class(*args, **kwargs)`; fires with that factory."""
        self.server_factory = yield self.server_runner.listen_server(
            server_class, *args, **kwargs)
        self.server_disconnected = self.server_factory.testserver_on_connection_lost
        self.listener = self.server_runner.listener
        return self.server_factory

    @defer.inlineCallbacks
    def connect_client(self, client_class, *args, **kwargs):
        """Connect `client_class(*args, **kwargs)`; fires with that factory."""
        self.client_factory = yield self.server_runner.connect_client(
            client_class, *args, **kwargs)
        self.client_disconnected = self.client_factory.testserver_on_connection_lost
        self.connector = self.server_runner.connector
        return self.client_factory

    def tear_down_server_client(self):
        """Clean the server and every client (registered by setUp)."""
        if self.server_runner:
            return self.server_runner.clean_up()
        return None


class TCPServerTestCase(ServerTestCase):
    def get_server(self):
        return TidyTCPServer()


class UnixServerTestCase(ServerTestCase):
    def get_server(self):
        return TidyUnixServer()


class TLSServerTestCase(ServerTestCase):
    def get_server(self):
        return TidyTLSServer()


class PbServerTestCase(ServerTestCase):
    """A Perspective Broker server: `listen_server(root)`, `connect_client()`."""

    def listen_server(self, *args, **kwargs):
        return super().listen_server(pb.PBServerFactory, *args, **kwargs)

    def connect_client(self, *args, **kwargs):
        return super().connect_client(pb.PBClientFactory, *args, **kwargs)


class TCPPbServerTestCase(PbServerTestCase):
    def get_server(self):
        return TidyTCPServer()


class UnixPbServerTestCase(PbServerTestCase):
    def get_server(self):
        return TidyUnixServer()


class TLSPbServerTestCase(PbServerTestCase):
    def get_server(self):
        return TidyTLSServer()
