"""Each of Toxiproxy's toxics as a stage (see lab.faults.stage for the contract).

Semantics follow Toxiproxy's toxics/*.go; where Twisted's push model differs
from its goroutines, the docstring says what was kept. Time is the injected
clock's, randomness the injected RNG's: exact and repeatable in tests.
"""

from __future__ import annotations

import random

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from lab.faults.ntlm_close import NtlmClose
from lab.faults.schema import Toxic
from lab.faults.stage import EOF_FULL, EOF_HALF, Link, Stage, Timed

__all__ = ["STAGES", "make_stage"]


class Latency(Timed):
    """Each chunk leaves `latency` ± `jitter` ms after it arrived, never before
    the chunk ahead of it (jitter delays, it does not reorder; as Toxiproxy)."""

    def data(self, chunk: bytes) -> None:
        delay = self.attributes["latency"]
        jitter = self.attributes["jitter"]
        if jitter > 0:
            delay += self.rng.randrange(2 * jitter) - jitter
        self._push(max(self._last_due(), self.clock.seconds() + delay / 1000), chunk)


class Bandwidth(Timed):
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


class Slicer(Timed):
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
        self._push(max(self._last_due(), self._free_at), EOF_FULL if full else EOF_HALF)


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
    "ntlm_close": NtlmClose,
}


def make_stage(toxic: Toxic, link: Link, clock: IReactorTime, rng: random.Random) -> Stage:
    """The stage `toxic` puts on one connection: the toxic itself with probability
    `toxicity` (rolled once, here, per connection), else a pass-through."""
    active = toxic.toxicity >= 1.0 or rng.random() < toxic.toxicity
    cls = STAGES[toxic.type] if active else Stage
    return cls(toxic, link, clock, rng)
