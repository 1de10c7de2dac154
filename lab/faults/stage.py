"""The contract every toxic stage keeps, and the timed FIFO three toxics share.

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

EOF_HALF, EOF_FULL = object(), object()


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


class Timed(Stage):
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
            self.next.eof(item is EOF_FULL)

    def _last_due(self) -> float:
        return self._queue[-1][0] if self._queue else self.clock.seconds()

    def eof(self, full: bool) -> None:
        """The end follows the last byte held, with no delay of its own."""
        self._push(self._last_due(), EOF_FULL if full else EOF_HALF)

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
