"""One proxied connection: a client, its upstream, and a pipe each way.

Toxiproxy's shape on Twisted: per accepted client the proxy connects upstream
(the client is paused until then, so nothing is buffered), then bytes flow
client → server through the `upstream` pipe and server → client through the
`downstream` pipe, each a chain of toxic stages ending in a sink that writes
to the other socket. Flow control is end to end: each pipe is the streaming
producer of its destination socket, and it stops reading its source whenever
that socket is full or its stages hold more than `HIGH_WATER` bytes, so a
slow reader never makes the proxy buffer without bound.

Closing is Toxiproxy's where it has one and TCP's where it does not: a peer's
half-close (FIN) is passed on as a half-close, after the toxics ahead of it;
a toxic's close, or a peer lost outright, closes both sides; `reset_peer`
aborts both with RST. Anything still open `CLOSE_GRACE` seconds after a close
(a reader that never drains its data) is aborted, so closing always ends.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from twisted.internet import protocol, tcp
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from zope.interface import implementer

from lab.faults.journal import Journal, address
from lab.faults.schema import CLOSE_GRACE, UPSTREAM, Toxic
from lab.faults.stage import Stage
from lab.faults.toxics import make_stage

HIGH_WATER = 1 << 20            # bytes a pipe's stages may hold before its source pauses
LOW_WATER = HIGH_WATER // 4     # ... and below which it reads again
CONNECT_TIMEOUT = 30.0          # seconds to reach the upstream before the client is closed


class Owner(Protocol):
    """What a connection needs of the proxy that accepted it (`lab.faults.proxy.Proxy`):
    named here so that this module does not import the proxy that imports it."""

    name: str
    reactor: Any
    rng: random.Random
    high_water: int
    journal: Journal

    def upstream_address(self) -> tuple[str, int]: ...

    def toxic_list(self) -> list[Toxic]: ...

    def forget(self, connection: Connection) -> None: ...


def write_now(transport, chunk: bytes) -> None:
    """`transport.write(chunk)`, except that on a TCP socket with nothing queued the
    bytes go out now, in this reactor turn. `write()` only queues them and asks the
    reactor for the next writable event: per relayed chunk an extra epoll turn and
    two epoll_ctl calls, which fault-free are most of what the layer adds to a
    request's latency. Whatever the socket does not take at once is queued by
    `write()` as usual, so ordering, back-pressure and closing stay Twisted's."""
    if (isinstance(transport, tcp.Connection) and transport.connected
            and not transport.disconnecting and not transport._writeDisconnected
            and transport.offset == len(transport.dataBuffer)
            and not transport._tempDataBuffer):
        sent = transport.writeSomeData(chunk)
        if isinstance(sent, int) and sent > 0:
            chunk = chunk[sent:]
    if chunk:
        transport.write(chunk)


class _Sink:
    """The end of a pipe's chain: the destination socket."""

    def __init__(self, pipe: Pipe):
        self.pipe = pipe

    def data(self, chunk: bytes) -> None:
        self.pipe.deliver(chunk)

    def eof(self, full: bool) -> None:
        self.pipe.finish(full)


@implementer(IPushProducer)
class Pipe:
    """One direction of a connection: source socket → stages → destination socket.
    It is the destination's streaming producer (the socket tells it when it is
    full) and the `Link` its stages call back."""

    def __init__(self, conn: Connection, stream: str, source: _Side, dest: _Side):
        self.conn, self.stream, self.source, self.dest = conn, stream, source, dest
        self.stages: list[Stage] = []
        self.sink = _Sink(self)
        self.bytes = 0              # delivered to the destination
        self.ended = False          # the source's end has entered the chain
        self.finished = False       # the end has reached the destination
        self._dest_full = self._reading_paused = False
        dest.transport.registerProducer(self, True)

    def _wire(self) -> None:
        for stage, after in zip(self.stages, self.stages[1:] + [self.sink]):  # noqa: B905
            stage.next = after

    def append(self, toxic: Toxic) -> None:
        """A new toxic joins at the end of the chain, as in Toxiproxy."""
        proxy = self.conn.proxy
        stage = make_stage(toxic, self, proxy.reactor, proxy.rng)
        if type(stage) is not Stage:        # its toxicity roll picked this connection
            self.conn.applied(toxic)
        self.stages.append(stage)
        self._wire()

    def _index(self, name: str) -> int | None:
        return next((i for i, s in enumerate(self.stages) if s.toxic.name == name), None)

    def remove(self, name: str) -> None:
        index = self._index(name)
        if index is not None:
            stage = self.stages.pop(index)
            self._wire()
            stage.detach(removed=True)
            self.flow()

    def replace(self, toxic: Toxic) -> None:
        """An updated toxic takes its old place; what the old one held goes on at once."""
        index = self._index(toxic.name)
        if index is not None:
            old = self.stages[index]
            new = make_stage(toxic, self, self.conn.proxy.reactor, self.conn.proxy.rng)
            if type(new) is not Stage:
                self.conn.applied(toxic)
            new.adopt(old)
            self.stages[index] = new
            self._wire()
            old.detach(removed=False)
            self.flow()

    # input, from the source socket
    def data(self, chunk: bytes) -> None:
        if not self.ended:
            (self.stages[0] if self.stages else self.sink).data(chunk)
            if self.stages:
                self.flow()

    def eof(self, full: bool) -> None:
        if not self.ended:
            self.ended = True
            (self.stages[0] if self.stages else self.sink).eof(full)

    # output, to the destination socket
    def deliver(self, chunk: bytes) -> None:
        if not self.finished and not self.dest.gone:
            self.bytes += len(chunk)
            write_now(self.dest.transport, chunk)

    def finish(self, full: bool) -> None:
        if self.finished:
            return
        self.finished = True
        if full:
            self.conn.close()
            return
        if not self.dest.gone:
            transport = self.dest.transport
            transport.unregisterProducer()
            lose_write = getattr(transport, "loseWriteConnection", transport.loseConnection)
            lose_write()
        self.conn.pipe_finished()

    # back-pressure
    def flow(self) -> None:
        held = sum(stage.buffered() for stage in self.stages)
        if self._dest_full or held > self.conn.proxy.high_water:
            if not self._reading_paused and not self.ended and not self.source.gone:
                self._reading_paused = True
                self.source.transport.pauseProducing()
        elif self._reading_paused and held <= self.conn.proxy.high_water // 4:
            self._reading_paused = False
            if not self.ended and not self.source.gone:
                self.source.transport.resumeProducing()

    def pauseProducing(self) -> None:
        self._dest_full = True
        self.flow()

    def resumeProducing(self) -> None:
        self._dest_full = False
        self.flow()

    def stopProducing(self) -> None:
        """The destination is gone; `Connection.side_lost` handles that."""

    def reset(self) -> None:
        self.conn.abort()

    def stop(self) -> None:
        for stage in self.stages:
            stage.stop()


@implementer(IHalfCloseableProtocol)
class _Side(protocol.Protocol):
    """One socket of a connection: the accepted client or the upstream."""

    def __init__(self, conn: Connection | None = None):
        self.conn = conn
        self.pipe: Pipe | None = None   # the pipe this socket feeds
        self.gone = False

    def connectionMade(self) -> None:
        # A relay must not add Nagle's wait to every small write it passes on (with
        # the peer's delayed ACK, tens of ms a request): fault-free, it is invisible.
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            set_no_delay(True)
        self.conn.side_made(self)

    def dataReceived(self, data: bytes) -> None:
        if self.pipe is not None:
            self.pipe.data(data)

    def readConnectionLost(self) -> None:
        if self.pipe is not None:
            self.pipe.eof(full=False)
        else:
            self.conn.close()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason=None) -> None:
        self.gone = True
        self.conn.side_lost(self)


class _UpstreamFactory(protocol.ClientFactory):
    def __init__(self, conn: Connection):
        self.conn = conn

    def buildProtocol(self, addr) -> _Side:
        return _Side(self.conn)

    def clientConnectionFailed(self, connector, reason) -> None:
        self.conn.unreachable = True
        self.conn.close()


class Connection:
    """A client, its upstream and the two pipes; lives in `proxy.connections`
    until both sockets are gone."""

    def __init__(self, proxy: Owner):
        self.proxy = proxy
        self.client = _Side(self)
        self.server: _Side | None = None
        self.pipes: dict[str, Pipe] = {}
        self.closing = False
        self._connector = None
        self._grace = None
        # for the journal (lab.faults.journal)
        self.opened = proxy.reactor.seconds()
        self.id: int | None = None
        self.toxics: list[dict[str, str]] = []
        self.how = "closed"
        self.unreachable = False    # the upstream refused, or did not answer in time
        self.addresses: tuple[str | None, str | None] = (None, None)   # client, upstream

    def applied(self, toxic: Toxic) -> None:
        entry = {"name": toxic.name, "type": toxic.type, "stream": toxic.stream}
        if entry not in self.toxics:
            self.toxics.append(entry)

    def side_made(self, side: _Side) -> None:
        if side is self.client:
            self.addresses = (address(side.transport.getPeer()), None)
            side.transport.pauseProducing()     # until the upstream answers
            host, port = self.proxy.upstream_address()
            self._connector = self.proxy.reactor.connectTCP(
                host, port, _UpstreamFactory(self), timeout=CONNECT_TIMEOUT)
            return
        self.server, self._connector = side, None
        self.addresses = (self.addresses[0], address(side.transport.getHost()))
        self.id = self.proxy.journal.opened(self.proxy.name, *self.addresses)
        if self.closing:
            side.transport.loseConnection()
            return
        up = Pipe(self, UPSTREAM, self.client, side)
        down = Pipe(self, "downstream", side, self.client)
        self.pipes = {up.stream: up, down.stream: down}
        self.client.pipe, side.pipe = up, down
        for toxic in self.proxy.toxic_list():
            self.pipes[toxic.stream].append(toxic)
        self.client.transport.resumeProducing()

    def side_lost(self, side: _Side) -> None:
        if not self.closing and side.pipe is not None:
            side.pipe.eof(full=True)
        if self.client.gone and (self.server is None or self.server.gone):
            self._stop()
            if self._connector is not None:
                self._connector.disconnect()
            self.proxy.forget(self)
            up, down = (self.pipes[s].bytes if s in self.pipes else 0
                        for s in (UPSTREAM, "downstream"))
            how = self.how if self.server is not None else (
                "upstream unreachable" if self.unreachable else "client left first")
            self.proxy.journal.closed(self.proxy.name, self.id, *self.addresses,
                                      self.opened, up, down, self.toxics, how)

    def pipe_finished(self) -> None:
        if self.pipes and all(pipe.finished for pipe in self.pipes.values()):
            self.close()

    def _sides(self) -> list[_Side]:
        return [s for s in (self.client, self.server) if s is not None and not s.gone]

    def _stop(self) -> None:
        for pipe in self.pipes.values():
            pipe.stop()
        if self._grace is not None and self._grace.active():
            self._grace.cancel()

    def close(self) -> None:
        """Close both sides politely (pending writes flushed), abort after the grace."""
        if self.closing:
            return
        self.closing = True
        for pipe in self.pipes.values():
            pipe.stop()
        if self._connector is not None and self.server is None:
            self._connector.disconnect()
        for side in self._sides():
            side.transport.unregisterProducer()
            side.transport.loseConnection()
        if self._sides():
            self._grace = self.proxy.reactor.callLater(CLOSE_GRACE, self.abort)

    def abort(self) -> None:
        """Both sides gone at once, with a TCP RST (`abortConnection` sets SO_LINGER 0)."""
        self.closing = True
        self.how = "reset"
        self._stop()
        for side in self._sides():
            side.transport.abortConnection()
