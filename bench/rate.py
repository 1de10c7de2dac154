"""The one timing loop the benchmarks share, and the one way they print a figure (and
the min / median / max of several runs of one)."""

import statistics
import time

from twisted.internet import defer

WARM_UP = 20


@defer.inlineCallbacks
def rate(operation, count: int):
    """Operations per second of `operation()` (returns a Deferred), run `count`
    times one after another, after a short warm-up."""
    for _ in range(WARM_UP):
        yield operation()
    started = time.perf_counter()
    for _ in range(count):
        yield operation()
    return count / (time.perf_counter() - started)


#: every figure reported by this process, by name (bench.goals reads them)
FIGURES: dict[str, float] = {}


def report(what: str, value: float, unit: str) -> None:
    FIGURES[what] = value
    print(f"{what:<62} {value:10.2f} {unit}", flush=True)


def spread(report, what: str, seconds: list[float]) -> None:
    """min / median / max of runs of one figure, through `report` (the caller's)."""
    report(f"{what} (min of {len(seconds)})", min(seconds), "s")
    report(f"{what} (median)", statistics.median(seconds), "s")
    report(f"{what} (max)", max(seconds), "s")
