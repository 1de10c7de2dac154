"""Tidy servers: test servers and clients whose clean-up always leaves the reactor clean.

Closing a Twisted server in a test means waiting for three kinds of event:
the listener stopped, every client-side connection lost, every server-side
connection lost. Wait for too few and the next test sees a dirty reactor;
wait for one that can never come and the suite hangs. The original helpers
waited on one Deferred per side, created up front, and hung whenever the
server never built a protocol for a connection (a client that drops the
connection at once can be gone before the server accepts it).

Here both sides are wrapped in a tracking factory (`lab.tidy.tracking`) that
records every protocol it actually built, so clean-up waits for exactly the
connections that exist:

1. connection attempts still in flight are cancelled (and awaited);
2. the listener stops listening (no new server-side connections after this);
3. every live connection, on both sides, gets ``loseConnection()``; any still
   open after a short grace (data the peer never reads) is aborted;
4. the returned Deferred fires once all of the above have completed.

``clean_up()`` is idempotent: a second call while the first is running fires
with it; a call after it finished is a cheap no-op. The public names and call
shapes are those of the original helpers, so tests port by changing imports.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.internet import defer, endpoints
from twisted.python.failure import Failure

from lab.tidy.tracking import Connections, TrackingFactory, observe

#: Seconds a connection may take to close politely before it is aborted.
ABORT_AFTER = 2.0


def global_reactor():
    """The global reactor, imported only when asked for (so importing lab.tidy.servers
    installs none, and callers may pass their own)."""
    from twisted.internet import reactor

    return reactor


class TidySocketServer:
    """A server and its clients, with a clean-up that never hangs and never leaks.

    Subclasses say where to listen and connect, either as endpoint description
    strings (`get_server_endpoint` / `get_client_endpoint`, as the original
    helpers did) or as endpoint objects (`server_endpoint` / `client_endpoint`).
    `reactor` is what they listen, connect and time the abort with (default: the
    global reactor, imported only when first needed).
    """

    def __init__(self, reactor=None):
        self._given_reactor = reactor
        self.listener = None        # IListeningPort once listening
        self.server_factory = None  # the user's server factory
        self.connector = None       # the user's protocol of the latest client
        self.client_factory = None  # the user's factory of the latest client
        self.clients: list[tuple[object, object]] = []  # (factory, protocol) of each client
        self._connections = Connections()
        self._cleaning: defer.Deferred | None = None

    @property
    def reactor(self):
        """The reactor this server uses: the one given, else the global one."""
        if self._given_reactor is None:
            self._given_reactor = global_reactor()
        return self._given_reactor

    # -- where to listen and connect -------------------------------------

    def get_server_endpoint(self) -> str:
        raise NotImplementedError("To be implemented by child classes.")

    def get_client_endpoint(self) -> str:
        raise NotImplementedError("To be implemented by child classes.")

    def server_endpoint(self):
        return endpoints.serverFromString(self.reactor, self.get_server_endpoint())

    def client_endpoint(self):
        return endpoints.clientFromString(self.reactor, self.get_client_endpoint())

    # -- connections ------------------------------------------------------

    @property
    def connections(self) -> int:
        """How many connections (both sides counted) are open right now."""
        return len(self._connections)

    def _check_usable(self) -> None:
        if self._cleaning is not None:
            raise RuntimeError("clean_up() is in progress; wait for it before reusing")

    def listen_server(self, server_class, *args, **kwargs) -> defer.Deferred:
        """Listen with `server_class(*args, **kwargs)`; fires with that factory."""
        try:
            self._check_usable()
            if self.listener is not None:
                raise RuntimeError("already listening; use another tidy server")
            factory = server_class(*args, **kwargs)
            tracking = TrackingFactory(factory, self._connections)
            listening = self.server_endpoint().listen(tracking)
        except Exception:
            return defer.fail()
        self.server_factory = factory
        factory.testserver_on_connection_lost = defer.Deferred()

        def listened(port):
            self.listener = port
            return factory

        return listening.addCallback(listened)

    def connect_client(self, client_class, *args, **kwargs) -> defer.Deferred:
        """Connect `client_class(*args, **kwargs)`; fires with that factory.

        Call it as often as you like: every client is tracked and cleaned up.
        """
        try:
            self._check_usable()
            if self.server_factory is None:
                raise ValueError("Server Factory was not provided.")
            if self.listener is None:
                raise ValueError(f"{self.server_factory} has not started listening.")
            factory = client_class(*args, **kwargs)
            tracking = TrackingFactory(factory, self._connections)
            attempt = self.client_endpoint().connect(tracking)
        except Exception:
            return defer.fail()
        factory.testserver_on_connection_lost = defer.Deferred()

        def connected(wrapper):
            protocol = wrapper.wrappedProtocol
            self.client_factory, self.connector = factory, protocol
            self.clients.append((factory, protocol))
            return factory

        return self._connections.attempting(attempt).addCallback(connected)

    # -- clean-up -----------------------------------------------------------

    def clean_up(self) -> defer.Deferred:
        """Stop listening and close every connection; see the module docstring."""
        cleaning = self._cleaning
        if cleaning is None:
            cleaning = self._cleaning = self._clean()
            cleaning.addBoth(self._cleaned)   # may run at once and reset _cleaning
        return observe(cleaning)

    def _clean(self) -> defer.Deferred:
        stop_listening = self.listener.stopListening if self.listener is not None else None
        return self._connections.close(stop_listening, self.reactor, ABORT_AFTER)

    def _cleaned(self, result):
        for factory in [self.server_factory] + [f for f, _ in self.clients]:
            lost = getattr(factory, "testserver_on_connection_lost", None)
            if isinstance(lost, defer.Deferred) and not lost.called:
                lost.callback(factory)
        self.listener = None
        self.server_factory = self.client_factory = self.connector = None
        self.clients = []
        self._cleaning = None
        self._remove_files()
        if isinstance(result, Failure) and result.check(defer.FirstError):
            return result.value.subFailure
        return None if not isinstance(result, Failure) else result

    def _remove_files(self) -> None:
        """Hook for subclasses that own files (the Unix socket's directory)."""


class TidyTCPServer(TidySocketServer):
    """A tidy TCP server on 127.0.0.1 (or `interface`), on `port` (0: the system picks)."""

    client_endpoint_pattern = "tcp:host=%s:port=%s"
    server_endpoint_pattern = "tcp:%s:interface=%s"

    def __init__(self, interface: str = "127.0.0.1", port: int = 0, reactor=None):
        super().__init__(reactor)
        self.interface = interface
        self.port = port

    def get_server_endpoint(self) -> str:
        return self.server_endpoint_pattern % (self.port, self.interface)

    def get_client_endpoint(self) -> str:
        if self.server_factory is None:
            raise ValueError("Server Factory was not provided.")
        if self.listener is None:
            raise ValueError(f"{self.server_factory} has not started listening.")
        host = "127.0.0.1" if self.interface in ("0.0.0.0", "") else self.interface
        return self.client_endpoint_pattern % (host, self.listener.getHost().port)


class TidyUnixServer(TidySocketServer):
    """A tidy Unix-socket server; the socket lives in a private directory that
    clean-up removes."""

    client_endpoint_pattern = "unix:path=%s"
    server_endpoint_pattern = "unix:%s"

    def __init__(self, reactor=None):
        super().__init__(reactor)
        self.temp_dir = tempfile.mkdtemp(prefix="tidy-")
        self.path = os.path.join(self.temp_dir, "tidy_unix_server")

    def get_server_endpoint(self) -> str:
        os.makedirs(self.temp_dir, mode=0o700, exist_ok=True)   # reused after clean-up
        return self.server_endpoint_pattern % self.path.replace(":", r"\:")

    def get_client_endpoint(self) -> str:
        return self.client_endpoint_pattern % self.path.replace(":", r"\:")

    def _remove_files(self) -> None:
        shutil.rmtree(self.temp_dir, ignore_errors=True)


class TidyTLSServer(TidyTCPServer):
    """A tidy TLS server on 127.0.0.1 with an in-process self-signed certificate.

    Clients verify it against `certificate.trust_root()` for the name
    `localhost`, as a real client would.
    """

    def __init__(self, certificate=None, interface: str = "127.0.0.1", port: int = 0,
                 hostname: str = "localhost", reactor=None):
        super().__init__(interface, port, reactor)
        from lab.tidy.tls import localhost_certificate

        self.certificate = certificate or localhost_certificate()
        self.hostname = hostname

    def server_endpoint(self):
        return endpoints.SSL4ServerEndpoint(
            self.reactor, self.port, self.certificate.server_options(), interface=self.interface)

    def client_endpoint(self):
        from twisted.internet import ssl

        if self.listener is None:
            raise ValueError(f"{self.server_factory} has not started listening.")
        host = "127.0.0.1" if self.interface in ("0.0.0.0", "") else self.interface
        options = ssl.optionsForClientTLS(self.hostname, trustRoot=self.certificate.trust_root())
        tcp = endpoints.TCP4ClientEndpoint(self.reactor, host, self.listener.getHost().port)
        return endpoints.wrapClientTLS(options, tcp)
