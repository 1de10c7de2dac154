"""The memory a fuzz batch leaves in the fault API and the origin (issue 22's goal:
under +20 MB each): harness.fuzz's seeded cases against private servers on
127.0.0.1, resident memory read before and after, three batches in a row (a leak
grows every batch; an allocator's first reservation only in the first)."""

from __future__ import annotations

import random

from harness import fuzz
from harness.processes import start_faults, start_origin, stop

BATCHES = 3


def run(report) -> None:
    origin, origin_address = start_origin()
    faults, ready = start_faults(("web", origin_address))
    try:
        api = fuzz.address(ready["api"])
        start = {"fault API": fuzz.rss_kib(faults.pid), "origin": fuzz.rss_kib(origin.pid)}
        for batch in range(BATCHES):
            rng = random.Random(batch)
            list(fuzz.run(api, fuzz.fault_api_cases(rng, 600, origin_address)))
            fuzz.send(api, fuzz.Case("POST", "/reset"))
            fuzz.run_origin(fuzz.address(origin_address), fuzz.origin_cases(rng, 400))
            for name, pid in (("fault API", faults.pid), ("origin", origin.pid)):
                grown = (fuzz.rss_kib(pid) - start[name]) / 1024
                report(f"fuzz batch {batch + 1}/{BATCHES}: {name} memory growth (goal < 20)",
                       grown, "MB")
    finally:
        stop(faults)
        stop(origin)
