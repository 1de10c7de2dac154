"""Cold image builds, warm `lab up` to all-healthy, `lab down`: on a private project."""

from __future__ import annotations

import statistics
import time

from bench.measure import cpu_seconds
from lab.config.discovery import load_config
from lab.config.topology import SERVICE_NAMES
from lab.stack.lifecycle import Stack
from lab.testing.side_by_side import side_by_side_env

PROJECT = "lab-bench"
SUBNET = "172.29.55.0/24"
RUNS = 5


def private_stack() -> Stack:
    return Stack(load_config(environ=side_by_side_env(PROJECT, SUBNET)))


def busy_share(seconds: float = 20.0) -> float:
    """Share of all cores busy over `seconds` (`bench.measure.cpu_seconds`)."""
    busy0, total0 = cpu_seconds()
    time.sleep(seconds)                             # measuring a duration, not waiting on one
    busy1, total1 = cpu_seconds()
    return 100.0 * (busy1 - busy0) / max(1e-9, total1 - total0)


def _spread(report, what: str, seconds: list[float]) -> None:
    report(f"{what} (min of {len(seconds)})", min(seconds), "s")
    report(f"{what} (median)", statistics.median(seconds), "s")
    report(f"{what} (max)", max(seconds), "s")


def run(report, cold: bool = True) -> None:
    stack = private_stack()
    stack.down()
    stack.up()                       # warms the build cache
    stack.down()
    if cold:
        for service in SERVICE_NAMES:
            started = time.monotonic()
            stack.compose.run("build", "--no-cache", service, timeout=1800)
            report(f"cold build {service}", time.monotonic() - started, "s")
    ups, downs, noops = [], [], []
    for _ in range(RUNS):
        started = time.monotonic()
        stack.up()
        ups.append(time.monotonic() - started)
        started = time.monotonic()
        stack.up()
        noops.append(time.monotonic() - started)
        started = time.monotonic()
        stack.down()
        downs.append(time.monotonic() - started)
    _spread(report, "warm lab up, until all healthy", ups)
    _spread(report, "lab up when already up (no-op)", noops)
    _spread(report, "lab down", downs)
    alone = busy_share()
    report("machine busy over 20 s, no lab", alone, "%")
    stack.up()
    stack.wait_healthy(lambda _m: None, 120)
    idle = busy_share()
    report("machine busy over 20 s, lab up and idle", idle, "%")
    # on 2 cores a point is 1 % of both: the lab's own share, in the unit
    report("idle lab: busy share over no lab", idle - alone, "points")
    stack.down()
    stack.engine.remove_project_images(PROJECT)             # leave no private images behind
