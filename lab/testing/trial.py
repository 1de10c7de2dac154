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

from lab.tidy.servers import TidyTCPServer, TidyTLSServer, TidyUnixServer


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


class SquidTestCase(unittest.TestCase):
    """trial test case backed by the running lab's squid (the seed's SquidTestCase).

    `get_nonauth_proxy_settings()` and `get_auth_proxy_settings()` return
    dicts with `host`, `port` (and `username`, `password`); the auth settings
    are the `basic` port's. With no lab up, every test fails at once saying so.
    """

    timeout = 30
    _endpoints = None       # lab.endpoints.Endpoints, read once per process

    def setUp(self):
        super().setUp()
        if SquidTestCase._endpoints is None:
            from lab.errors import LabError
            from lab.stack.lifecycle import Stack

            try:
                SquidTestCase._endpoints = Stack().endpoints()
            except LabError as exc:
                self.fail(f"{exc} (SquidTestCase needs the lab: run `make lab-up`)")

    def get_endpoints(self):
        """Everything `lab status --json` says about the running lab (`lab.endpoints.Endpoints`)."""
        return SquidTestCase._endpoints

    def get_nonauth_proxy_settings(self) -> dict:
        return self.get_endpoints().proxy["noauth"].to_json()

    def get_auth_proxy_settings(self) -> dict:
        return self.get_endpoints().proxy["basic"].to_json()
