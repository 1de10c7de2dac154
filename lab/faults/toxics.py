"""Each toxic as a stage in a one-direction chain: bytes in, bytes (changed) out.

A stage receives `data(chunk)` and `eof(full)` from the stage before it and
passes them on to `next` (the next stage, or the pipe's sink that writes to
the socket). `eof(full=False)` is the peer's half-close (pass it on as a
half-close); `eof(full=True)` means "close the whole connection" (a peer gone,
or a toxic such as `timeout` or `limit_data` closing it, as Toxiproxy's
`stub.Close()` does). Time comes only from the injected clock, so every toxic
is exact under `task.Clock`, and a stage that holds data reports how much, so
the pipe can apply back-pressure instead of buffering without bound.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from lab.faults.schema import Toxic

_EOF_HALF, _EOF_FULL = object(), object()


class Receiver(Protocol):
    def data(self, chunk: bytes) -> None: ...
    def eof(self, full: bool) -> None: ...


class Link(Protocol):
    """What a stage may ask of the pipe it is in."""

    def flow(self) -> None:
        """Held bytes changed: re-check back-pressure."""

    def reset(self) -> None:
        """Abort both sides of the connection with a TCP RST."""


class Stage:
    """A pass-through stage: the base of every toxic, and what a toxic becomes
    on a connection its toxicity roll left alone."""

    def __init__(self, toxic: Toxic, link: Link, clock: IReactorTime, rng: random.Random):
        self.toxic, self.link, self.clock, self.rng = toxic, link, clock, rng
        self.attributes = toxic.attributes
        self.next: Receiver | None = None

    def data(self, chunk: bytes) -> None:
        self.next.data(chunk)

    def eof(self, full: bool) -> None:
        self.next.eof(full)

    def buffered(self) -> int:
        """Bytes held for later (what back-pressure counts)."""
        return 0

    def adopt(self, old: Stage) -> None:
        """Take over per-connection state from the stage this one replaces."""

    def detach(self, removed: bool) -> None:
        """The toxic was removed (or updated): hand on at once whatever is held,
        in order, so no byte is lost (Toxiproxy's "don't drop data on the floor")."""

    def stop(self) -> None:
        """The connection is gone: cancel every timer."""


class _Timed(Stage):
    """A FIFO of (due time, bytes or end) released by one timer, in order:
    latency, bandwidth and slicer differ only in how they compute due times."""

    def __init__(self, *args):
        super().__init__(*args)
        self._queue: deque[tuple[float, object]] = deque()
        self._held = 0
        self._timer: IDelayedCall | None = None

    def _push(self, due: float, item: object) -> None:
        if not self._queue and due <= self.clock.seconds():
            self._emit(item)
            return
        self._queue.append((due, item))
        if isinstance(item, bytes):
            self._held += len(item)
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        delay = max(0.0, self._queue[0][0] - self.clock.seconds())
        self._timer = self.clock.callLater(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        while self._queue and self._queue[0][0] <= now:
            self._pop()
        if self._queue:
            self._arm()
        self.link.flow()

    def _pop(self) -> None:
        _, item = self._queue.popleft()
        if isinstance(item, bytes):
            self._held -= len(item)
        self._emit(item)

    def _emit(self, item: object) -> None:
        if isinstance(item, bytes):
            self.next.data(item)
        else:
            self.next.eof(item is _EOF_FULL)

    def _last_due(self) -> float:
        return self._queue[-1][0] if self._queue else self.clock.seconds()

    def eof(self, full: bool) -> None:
        """The end follows the last byte held, with no delay of its own."""
        self._push(self._last_due(), _EOF_FULL if full else _EOF_HALF)

    def buffered(self) -> int:
        return self._held

    def detach(self, removed: bool) -> None:
        self.stop()
        while self._queue:
            self._pop()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class Latency(_Timed):
    """Each chunk leaves `latency` ± `jitter` ms after it arrived, never before
    the chunk ahead of it (jitter delays, it does not reorder; as Toxiproxy)."""

    def data(self, chunk: bytes) -> None:
        delay = self.attributes["latency"]
        jitter = self.attributes["jitter"]
        if jitter > 0:
            delay += self.rng.randrange(2 * jitter) - jitter
        self._push(max(self._last_due(), self.clock.seconds() + delay / 1000), chunk)


class Bandwidth(_Timed):
    """At most `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy's bytes-per-ms): each
    piece (at most 100 ms' worth) leaves once its own transmission time is up.
    An idle connection earns no credit; `rate` 0 means unlimited."""

    def data(self, chunk: bytes) -> None:
        rate = self.attributes["rate"]
        if rate <= 0:
            self._push(self._last_due(), chunk)
            return
        step = rate * 100
        for start in range(0, len(chunk), step):
            piece = chunk[start:start + step]
            self._push(self._last_due() + len(piece) / (rate * 1000), piece)


class Slicer(_Timed):
    """Splits each chunk into pieces of about `average_size` ± `size_variation`
    bytes (Toxiproxy's halving), `delay` µs apart."""

    _free_at = 0.0

    def _cuts(self, start: int, end: int) -> list[int]:
        average, variation = self.attributes["average_size"], self.attributes["size_variation"]
        if (end - start) - average <= variation:
            return [end]
        middle = start + (end - start) // 2
        if variation > 0:
            middle += self.rng.randrange(2 * variation) - variation
        return self._cuts(start, middle) + self._cuts(middle, end)

    def data(self, chunk: bytes) -> None:
        gap = self.attributes["delay"] / 1_000_000
        start = 0
        for end in self._cuts(0, len(chunk)):
            due = max(self.clock.seconds(), self._free_at)
            self._free_at = due + gap
            self._push(due, chunk[start:end])
            start = end

    def eof(self, full: bool) -> None:
        self._push(max(self._last_due(), self._free_at), _EOF_FULL if full else _EOF_HALF)


class Timeout(Stage):
    """Drops every byte; after `timeout` ms (counted from when the toxic met this
    connection) closes it; 0 never closes. Removing it closes the connection too
    (Toxiproxy's Cleanup): the bytes it dropped leave the stream unusable."""

    _closed = False

    def __init__(self, *args):
        super().__init__(*args)
        ms = self.attributes["timeout"]
        self._timer = self.clock.callLater(ms / 1000, self._close) if ms > 0 else None

    def _close(self, full: bool = True) -> None:
        self._timer = None
        if not self._closed:
            self._closed = True
            self.next.eof(full)

    def data(self, chunk: bytes) -> None:
        pass

    def eof(self, full: bool) -> None:
        self.stop()
        self._close(full)

    def detach(self, removed: bool) -> None:
        self.stop()
        if removed:
            self._close()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class ResetPeer(Stage):
    """At the first chunk (or end) that reaches it, drops it and resets both
    sides with a TCP RST: at once, or `timeout` ms later (dropping meanwhile)."""

    _timer: IDelayedCall | None = None
    _triggered = False

    def _trigger(self) -> None:
        if self._triggered:
            return
        self._triggered = True
        ms = self.attributes["timeout"]
        if ms > 0:
            self._timer = self.clock.callLater(ms / 1000, self.link.reset)
        else:
            self.link.reset()

    def data(self, chunk: bytes) -> None:
        self._trigger()

    def eof(self, full: bool) -> None:
        self._trigger()

    def detach(self, removed: bool) -> None:
        self.stop()

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class LimitData(Stage):
    """Passes the first `bytes` bytes of the connection's stream, then closes it
    (the count survives an update of the toxic, as Toxiproxy's state does)."""

    sent = 0
    _closed = False

    def adopt(self, old: Stage) -> None:
        self.sent = getattr(old, "sent", 0)

    def data(self, chunk: bytes) -> None:
        if self._closed:
            return
        chunk = chunk[:max(0, self.attributes["bytes"] - self.sent)]
        if chunk:
            self.sent += len(chunk)
            self.next.data(chunk)
        if self.attributes["bytes"] - self.sent <= 0:
            self._closed = True
            self.next.eof(True)

    def eof(self, full: bool) -> None:
        if not self._closed:
            self._closed = True
            self.next.eof(full)


class SlowClose(Stage):
    """Data passes untouched; the close waits `delay` ms."""

    _timer: IDelayedCall | None = None
    _full = False

    def eof(self, full: bool) -> None:
        if self._timer is None:
            self._full = full
            self._timer = self.clock.callLater(self.attributes["delay"] / 1000,
                                               self.next.eof, full)

    def detach(self, removed: bool) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
            self.next.eof(self._full)   # the close is due now; nothing else is held

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()


STAGES: dict[str, type[Stage]] = {
    "latency": Latency, "bandwidth": Bandwidth, "slicer": Slicer, "timeout": Timeout,
    "reset_peer": ResetPeer, "limit_data": LimitData, "slow_close": SlowClose,
}


def make_stage(toxic: Toxic, link: Link, clock: IReactorTime, rng: random.Random) -> Stage:
    """The stage `toxic` puts on one connection: the toxic itself with probability
    `toxicity` (rolled once, here, per connection), else a pass-through."""
    active = toxic.toxicity >= 1.0 or rng.random() < toxic.toxicity
    cls = STAGES[toxic.type] if active else Stage
    return cls(toxic, link, clock, rng)
