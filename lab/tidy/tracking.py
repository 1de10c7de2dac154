"""Connection tracking for tidy servers (`lab.tidy.servers`): which connections exist,
and closing them.

Why tracking: `lab.tidy.servers`'s clean-up must wait for exactly the connections that
exist, never for one the server never built (see its docstring). Both sides
are wrapped in a `TrackingFactory` that records, in a `Connections`, every
protocol it actually built and reports its loss whatever the user's protocol
does in its `connectionLost`; `Connections` also follows client connection
attempts in flight, and `close()` cancels, stops and closes them all (aborting
stragglers after a grace). `observe()` lets `clean_up()` hand out one result
to many callers. Copied into the `web` image with `lab.tidy.servers` (images/web/Dockerfile).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import alsoProvides


def observe(deferred: defer.Deferred) -> defer.Deferred:
    """A new Deferred with `deferred`'s outcome, leaving `deferred`'s own chain alone."""
    observer: defer.Deferred = defer.Deferred()

    def relay(result):
        if isinstance(result, Failure):
            observer.errback(result)
            return None
        observer.callback(result)
        return result

    deferred.addBoth(relay)
    return observer


class TrackedProtocol(ProtocolWrapper):
    """Reports its own loss to the connections that recorded it, whatever the
    user's protocol does in its `connectionLost`."""

    def connectionLost(self, reason) -> None:
        try:
            super().connectionLost(reason)
        finally:
            self.factory.connections.lost(self)


class _RefusedProtocol(protocol.Protocol):
    def connectionMade(self) -> None:
        self.transport.loseConnection()


class TrackingFactory(WrappingFactory):
    """Wraps the user's factory; the user keeps and sees their own factory object."""

    protocol = TrackedProtocol

    def __init__(self, wrapped, connections: Connections):
        if getattr(wrapped, "protocol", None) is None:
            # As the original helpers did: a bare (Server|Client)Factory speaks Protocol.
            wrapped.protocol = protocol.Protocol
        super().__init__(wrapped)
        self.connections = connections
        if IProtocolNegotiationFactory.providedBy(wrapped):
            # TLS negotiates ALPN with the factory it wraps, i.e. with us: offer what
            # the user's factory offers (a web Site: http/1.1), or a client that sends
            # ALPN (curl, browsers) is refused with "internal error".
            alsoProvides(self, IProtocolNegotiationFactory)

    def acceptableProtocols(self) -> list[bytes]:
        return self.wrappedFactory.acceptableProtocols()

    def buildProtocol(self, addr) -> TrackedProtocol:
        inner = self.wrappedFactory.buildProtocol(addr)
        if inner is None:
            # The user's factory refused the connection. Returning None would
            # crash a TLS wrapper below us and orphan the socket; close it
            # ourselves instead, tracked like any other connection.
            inner = _RefusedProtocol()
        wrapper = self.protocol(self, inner)
        self.connections.built(wrapper)
        return wrapper


class Connections:
    """The open connections (both sides) built by tracking factories, and the
    client connection attempts still in flight."""

    def __init__(self) -> None:
        self._open: dict[TrackedProtocol, defer.Deferred] = {}
        self._attempts: dict[defer.Deferred, defer.Deferred] = {}

    def __len__(self) -> int:
        return len(self._open)

    def built(self, wrapper: TrackedProtocol) -> None:
        self._open[wrapper] = defer.Deferred()

    def lost(self, wrapper: TrackedProtocol) -> None:
        lost = self._open.pop(wrapper, None)
        if lost is not None:
            lost.callback(None)

    def attempting(self, attempt: defer.Deferred) -> defer.Deferred:
        """Track `attempt` (a client endpoint's `connect()`) until it settles, so
        `close()` can cancel and await it; returns `attempt`."""
        settled: defer.Deferred = defer.Deferred()
        self._attempts[attempt] = settled

        def finished(result):
            self._attempts.pop(attempt, None)
            settled.callback(None)
            return result

        return attempt.addBoth(finished)

    def close(self, stop_listening: Callable[[], object] | None, reactor,
              abort_after: float) -> defer.Deferred:
        """Cancel the attempts in flight, call `stop_listening` (if any), then
        `loseConnection()` every open connection. Fires once all of that has
        completed; a connection still open after `abort_after` seconds of
        `reactor` time (data the peer never reads) is aborted."""
        for attempt in list(self._attempts):
            attempt.cancel()
        waits = list(self._attempts.values())
        if stop_listening is not None:
            waits.append(defer.maybeDeferred(stop_listening))
        for wrapper in list(self._open):
            wrapper.loseConnection()
        waits.extend(self._open.values())
        if not self._open:
            return defer.gatherResults(waits, consumeErrors=True)
        abort = reactor.callLater(abort_after, self._abort_open)
        done = defer.gatherResults(waits, consumeErrors=True)

        def stop_abort_timer(result):
            if abort.active():
                abort.cancel()
            return result

        return done.addBoth(stop_abort_timer)

    def _abort_open(self) -> None:
        for wrapper in list(self._open):
            abort = getattr(wrapper.transport, "abortConnection", None)
            if abort is not None:
                abort()
