"""The floors under the lifecycle goals: each step a warm `lab up` cannot skip, measured
on its own (issue 23: a goal missed needs the step that bounds it measured alone).

A warm `lab up` is a chain, each link waiting for the one before:
  1. `Stack.up()`'s own steps before it asks compose (the configuration, fingerprints,
     certificates, the ports), timed as `bench.lab_lifecycle` times `lab up`: in this
     process, the host already prepared;
  2. compose and the engine starting the DC's container (its network, volume, ports);
  3. the DC from its container's start to its "dc: ready" line (samba answering, the
     configuration's users and passwords set, the keytab exported);
  4. the proxy from winbindd's start (the first thing it does once the DC is ready) to
     its "proxy: ready" line (squid accepting, winbindd's channel to the DC open);
  5. the proxy's health check, which proves authentication works.
Each is timed with nothing else starting beside it (a private project; dns, web and the
fault layer up and idle before the DC starts, the DC ready before the proxy starts),
from docker's own timestamps (a local engine: its clock is this host's). Their sum is
the shortest a `lab up` could be if the other services cost nothing.

And a start keeps both cores busy, so its CPU work over the cores bounds it too:
compose's and the engine's work for the lab's five containers with nothing in them (the
lab's images, network, ports, volume and configs; an idle `sh` for an entrypoint), plus
each service's own start alone: its container's CPU time when it says it is ready (its
health check left out). The floor is the larger of the two. After the engine's restart
the containers are there, stopped: that floor takes the engine's work to start them
again instead (`lab up` starts a lab the engine stopped whole as it is). `make lab-up`
adds `lab check`'s requests, timed alone on a lab up and idle (in process, as its
`lab up --check` runs them); `lab down`'s floor is the engine removing those five
empty containers.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

from bench.lab_lifecycle import private_env, private_stack
from bench.measure import cpu_seconds, cpu_work
from bench.rate import spread
from lab.config import topology
from lab.config.topology import SERVICE_NAMES
from lab.errors import StackError
from lab.stack.engine import epoch
from lab.stack.lifecycle import Stack

RUNS = 3
#: an entrypoint that does nothing until it is stopped (and stops at once)
IDLE = ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
#: a bound on every wait here: a step that takes longer is broken, not slow
BOUND = 120.0
#: started first and left idle: what the DC and the proxy need up, not what they wait on
FIRST = tuple(s for s in SERVICE_NAMES if s not in ("dc", "proxy"))

T = TypeVar("T")


def run(report) -> None:
    env = private_env()
    stack = private_stack(env)
    stack.down()
    stack.up()                    # the images, built and current
    stack.down()
    empty = _empty_override()
    try:
        before_compose = _before_compose(stack)
        five, work, again, removed, dc_container = _engine_alone(stack, empty)
        dc, proxy, check, own_work = _services_alone(stack)
        lab_check = [_lab_check(stack) for _ in range(RUNS)]
    except (StackError, subprocess.SubprocessError) as error:
        raise SystemExit(f"bench floors: {error}") from None
    finally:
        empty.unlink(missing_ok=True)
        stack.engine.remove_project(stack.config.project)
    steps = [("Stack.up() before it asks compose", before_compose),
             ("compose and the engine start the DC's container", dc_container),
             ("the DC, its container's start to ready", dc),
             ("the proxy, winbindd's start to ready", proxy),
             ("the proxy's health check", check)]
    for what, seconds in steps:
        spread(report, f"floor step, alone: {what}", seconds)
    chain = sum(statistics.median(seconds) for _what, seconds in steps)
    report("warm lab up's floor: those steps' medians added up", chain, "s")
    spread(report, "compose and the engine alone: the lab's five containers, empty, up",
           five)
    report("compose and the engine alone: the machine's CPU work meanwhile (median)",
           statistics.median(work), "CPU-s")
    for service, cpu in own_work.items():
        report(f"each service's own start, alone: {service}'s CPU work at its ready line "
               "(median)", statistics.median(cpu), "CPU-s")
    cores = os.cpu_count() or 1
    total = statistics.median(work) + sum(statistics.median(c) for c in own_work.values())
    report(f"warm lab up's CPU floor: that work over {cores} cores", total / cores, "s")
    floor = max(chain, total / cores)
    report("warm lab up's floor, the larger of those two", floor, "s")
    report("compose and the engine alone: the five empty containers stopped and started "
           "again, the machine's CPU work (median)", statistics.median(again), "CPU-s")
    report("lab up after the engine restarted, its floor: that work and the services' "
           f"over {cores} cores", (total - statistics.median(work)
                                    + statistics.median(again)) / cores, "s")
    spread(report, "lab check alone, on a lab up and idle", lab_check)
    report("warm make lab-up's floor: lab up's and lab check's",
           floor + statistics.median(lab_check), "s")
    spread(report, "lab down's floor: the engine removing the five empty containers",
           removed)


def _empty_override() -> Path:
    """A compose file over the lab's own: every service's entrypoint idle, no health
    check; everything else (images, network, ports, volume, configs) as the lab has it.
    JSON is YAML, and compose takes it."""
    with tempfile.NamedTemporaryFile("w", prefix="lab-floor-", suffix=".json",
                                     delete=False) as override:
        json.dump({"services": {
            service: {"entrypoint": IDLE, "command": [], "healthcheck": {"disable": True}}
            for service in SERVICE_NAMES}}, override)
    return Path(override.name)


def _up(stack: Stack, *services: str, override: Path | None = None) -> None:
    """`docker compose up --detach --no-deps SERVICES` on the stack's project (all of
    them if none), with `override` over its compose file."""
    stack.compose.run(*(["-f", str(override)] if override else []), "up", "--detach",
                      *(["--no-deps", *services] if services else []), timeout=BOUND)


def _before_compose(stack: Stack) -> list[float]:
    """From `Stack.up()`'s call to its "starting containers" (the lab down, nothing else
    running)."""
    seconds = []
    for _ in range(RUNS):
        stack.down()
        seconds.append(_until_compose_is_asked(stack))
    stack.down()
    return seconds


def _until_compose_is_asked(stack: Stack) -> float:
    started, said = time.monotonic(), []

    def say(message: str) -> None:
        if message == "starting containers" and not said:
            said.append(time.monotonic() - started)

    stack.up(say)
    if not said:
        _missing("\"starting containers\" from Stack.up()")
    return said[0]


def _engine_alone(stack: Stack, empty: Path
                  ) -> tuple[list[float], list[float], list[float], list[float], list[float]]:
    """The five containers, empty: compose up's wall and the machine's CPU work; the same
    work for them stopped and started again (as after the engine's restart: containers,
    network and volume there already); their removal (what `lab down` does); then the
    DC's container started alone."""
    project = stack.config.project
    five, work, again, removed, dc_container = [], [], [], [], []
    for _ in range(RUNS):
        stack.engine.remove_project(project)
        started, (busy, _all) = time.monotonic(), cpu_seconds()
        _up(stack, override=empty)
        five.append(time.monotonic() - started)
        work.append(cpu_seconds()[0] - busy)
        stack.compose.run("-f", str(empty), "stop", timeout=BOUND)
        busy = cpu_seconds()[0]
        _up(stack, override=empty)
        again.append(cpu_seconds()[0] - busy)
        started = time.monotonic()
        stack.engine.remove_project(project)
        removed.append(time.monotonic() - started)
        wall = time.time()                  # docker's StartedAt is on this host's clock
        _up(stack, "dc", override=empty)
        dc_container.append(_started(stack, "dc") - wall)
    stack.engine.remove_project(project)
    return five, work, again, removed, dc_container


def _services_alone(stack: Stack
                    ) -> tuple[list[float], list[float], list[float], dict[str, list[float]]]:
    """dns, web and the fault layer started and ready; then the DC's start alone; then,
    the DC ready, the proxy's. Each container's CPU time is read at its ready line."""
    project = stack.config.project
    dc, proxy, check = [], [], []
    own_work: dict[str, list[float]] = {service: [] for service in SERVICE_NAMES}
    for _ in range(RUNS):
        stack.engine.remove_project(project)
        _up(stack, *FIRST)
        for service in FIRST:
            _line_at(stack, service, topology.service(service).ready_line)
            own_work[service].append(_cpu_work(stack, service))
        _up(stack, "dc")
        dc.append(_line_at(stack, "dc", topology.service("dc").ready_line)
                  - _started(stack, "dc"))
        own_work["dc"].append(_cpu_work(stack, "dc"))
        _up(stack, "proxy")
        ready = _line_at(stack, "proxy", topology.service("proxy").ready_line)
        own_work["proxy"].append(_cpu_work(stack, "proxy"))
        proxy.append(ready - _line_at(stack, "proxy", r"winbindd version .* started"))
        check.append(_passing_check(stack, "proxy"))
    return dc, proxy, check, own_work           # the last run's lab left up


def _lab_check(stack: Stack) -> float:
    """Seconds `lab check`'s requests take, as `make lab-up` runs them: `lab up --check`,
    in the process that brought the lab up, its endpoints in hand."""
    from lab.clients.check import run_checks

    endpoints = stack.endpoints()
    started = time.monotonic()
    failed = [what for what, ok, _ in run_checks(endpoints) if not ok]
    if failed:
        raise SystemExit(f"bench floors: lab check failed: {', '.join(failed)}")
    return time.monotonic() - started


def _passing_check(stack: Stack, service: str) -> float:
    """Seconds the service's own health check takes when it passes (asked again until
    it does: a service may still be settling right after its ready line)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        state = stack.states()[service]
        started = time.monotonic()
        if stack.engine.probe(state):
            return time.monotonic() - started
        time.sleep(0.1)         # a check that failed: no event says when one would pass
    return _missing(f"{service}'s health check passing")


def _started(stack: Stack, service: str) -> float:
    return epoch(stack.states()[service].started) or _missing(f"{service}'s start time")


def _cpu_work(stack: Stack, service: str) -> float:
    return cpu_work(stack.engine.client.containers.get(stack.states()[service].container_id))


def _line_at(stack: Stack, service: str, pattern: str) -> float:
    """When docker took the first line of the service's output matching `pattern`."""
    found = re.compile(pattern)
    state = stack.states()[service]

    def line() -> float | None:
        logs = stack.engine.client.api.logs(state.container_id, timestamps=True)
        for text in logs.decode(errors="replace").splitlines():
            stamp, _, rest = text.partition(" ")
            if found.search(rest):
                return epoch(stamp)
        return None

    return _until(line, f"{service}'s line {pattern!r}")


def _until(what: Callable[[], T | None], name: str) -> T:
    """`what()` once it is not None. The figures come from docker's timestamps, so how
    often this asks does not enter them; bounded."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        value = what()
        if value is not None:
            return value
        time.sleep(0.05)        # docker has no event for a log line's content
    return _missing(name)


def _missing(what: str) -> NoReturn:
    raise SystemExit(f"bench floors: no {what} within {BOUND:.0f} s")
