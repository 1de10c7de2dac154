"""The one timing loop the benchmarks share."""

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
