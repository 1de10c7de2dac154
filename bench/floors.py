"""The floors under the lifecycle goals: each step a warm `lab up` cannot skip, measured
on its own (issue 23: a goal missed needs the step that bounds it measured alone).

A warm `lab up` is a chain, each link waiting for the one before:
  1. the CLI's own steps before it asks compose (the host's readiness, the configuration,
     fingerprints, certificates, the ports);
  2. compose and the engine starting the DC's container (its network, volume, ports);
  3. the DC from its container's start to its "dc: ready" line (samba answering, the
     configuration's users and passwords set, the keytab exported);
  4. the proxy from the DC's readiness to squid accepting: winbindd's start (the first
     thing it does once the DC is ready) to squid's "Accepting" line;
  5. the proxy's health check, which proves authentication works.
Each is timed with nothing else starting beside it (a private project; dns, web and the
fault layer up and idle before the DC starts, the DC ready before the proxy starts),
from docker's own timestamps. Their sum is the shortest a `lab up` could be if the
other services cost nothing.

And a start keeps both cores busy, so its CPU work over the cores bounds it too: the
engine's own work for the lab's five containers with nothing in them (the lab's images,
network, ports, volume and configs; an idle `sh` for an entrypoint), plus each
service's own start measured alone (its container's CPU time until it is ready). The
floor is the larger of the two. `make lab-up` adds `lab check`, timed alone on a lab up
and idle; `lab down`'s floor is the CLI with nothing to take down plus the engine
removing those five empty containers.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.lab_lifecycle import private_env, private_stack
from bench.measure import cpu_seconds
from lab.config.topology import SERVICE_NAMES
from lab.stack.lifecycle import Stack

RUNS = 3
#: an entrypoint that does nothing until it is stopped (and stops at once)
IDLE = ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]
#: a bound on every wait here: a step that takes longer is broken, not slow
BOUND = 120.0


def run(report) -> None:
    env = private_env()
    stack = private_stack(env)
    stack.down()
    stack.up()                    # the images, built and current
    stack.down()
    empty = _empty_override(stack)
    try:
        before_compose = _cli_before_compose(env)
        five, work, removed, dc_container = _engine_alone(stack, empty)
        dc, proxy, check, own_work = _services_alone(stack)
        lab_check = [_cli_with_nothing_to_do(env, "check") for _ in range(RUNS)]
        down_cli = [_cli_with_nothing_to_do(env, "down") for _ in range(RUNS)]
    finally:
        stack.engine.remove_project(stack.config.project)
        empty.unlink(missing_ok=True)
    steps = [("the CLI before it asks compose", before_compose),
             ("compose and the engine start the DC's container", dc_container),
             ("the DC, its container's start to ready", dc),
             ("the proxy, the DC ready to squid accepting", proxy),
             ("the proxy's health check", check)]
    for what, seconds in steps:
        _spread(report, f"floor step, alone: {what}", seconds)
    chain = sum(statistics.median(seconds) for _what, seconds in steps)
    report("warm lab up's floor: those steps' medians added up", chain, "s")
    _spread(report, "the engine alone: the lab's five containers, empty, up", five)
    report("the engine alone: its CPU work for them (median)", statistics.median(work),
           "CPU-s")
    for service, cpu in own_work.items():
        report(f"each service's own start, alone: {service}'s CPU work (median)",
               statistics.median(cpu), "CPU-s")
    cores = os.cpu_count() or 1
    total = statistics.median(work) + sum(statistics.median(c) for c in own_work.values())
    report(f"warm lab up's CPU floor: the engine's and the services' work over {cores} "
           "cores", total / cores, "s")
    floor = max(chain, total / cores)
    report("warm lab up's floor, the larger of those two", floor, "s")
    _spread(report, "lab check alone, on a lab up and idle", lab_check)
    report("warm make lab-up's floor: lab up's and lab check's",
           floor + statistics.median(lab_check), "s")
    _spread(report, "the engine alone: the five empty containers removed", removed)
    _spread(report, "lab down with nothing to take down", down_cli)
    report("lab down's floor: that CLI and that removal (medians added up)",
           statistics.median(down_cli) + statistics.median(removed), "s")


def _empty_override(stack: Stack) -> Path:
    """A compose file over the lab's own: every service's entrypoint idle, no health
    check; everything else (images, network, ports, volume, configs) as the lab has it.
    JSON is YAML, and compose takes it."""
    with tempfile.NamedTemporaryFile("w", prefix="lab-floor-", suffix=".json",
                                     delete=False) as override:
        json.dump({"services": {
            service: {"entrypoint": IDLE, "command": [], "healthcheck": {"disable": True}}
            for service in SERVICE_NAMES}}, override)
    return Path(override.name)


def _compose(stack: Stack, *args: str, override: Path | None = None) -> None:
    """`docker compose ARGS` on the stack's project, with `override` over its file."""
    command = list(stack.compose.compose_command_property)
    if override is not None:
        at = command.index("-p")
        command[at:at] = ["-f", str(override)]
    done = subprocess.run([*command, *args], cwd=stack.compose.context,
                          env=stack.compose.env, capture_output=True, text=True, timeout=BOUND)
    if done.returncode != 0:
        raise SystemExit(f"docker compose {' '.join(args)}: {done.stderr.strip()}")


def _engine_alone(stack: Stack, empty: Path):
    """The five containers, empty: compose up's wall and the machine's CPU work, their
    removal (what `lab down` does); then the DC's container started alone."""
    project = stack.config.project
    five, work, removed, dc_container = [], [], [], []
    for _ in range(RUNS):
        stack.engine.remove_project(project)
        started, (busy, _all) = time.time(), cpu_seconds()
        _compose(stack, "up", "--detach", override=empty)
        five.append(time.time() - started)
        work.append(cpu_seconds()[0] - busy)
        started = time.monotonic()
        stack.engine.remove_project(project)
        removed.append(time.monotonic() - started)
        started = time.time()
        _compose(stack, "up", "--detach", "--no-deps", "dc", override=empty)
        dc_container.append(_seconds(stack.states()["dc"].started) - started)
    stack.engine.remove_project(project)
    return five, work, removed, dc_container


def _services_alone(stack: Stack):
    """The DC's start with dns, web and the fault layer up and idle, then the proxy's
    with the DC ready; and each service's CPU work (its container's, health checks
    included) until it is ready."""
    project = stack.config.project
    dc, proxy, check = [], [], []
    own_work: dict[str, list[float]] = {service: [] for service in SERVICE_NAMES}
    first = [s for s in SERVICE_NAMES if s not in ("dc", "proxy")]
    for _ in range(RUNS):
        stack.engine.remove_project(project)
        _compose(stack, "up", "--detach", "--no-deps", *first)
        _until(lambda: set(first) <= stack.ready(stack.states()), f"{first} ready")
        _compose(stack, "up", "--detach", "--no-deps", "dc")
        ready_at = _line_at(stack, "dc", r"dc: ready")
        dc.append(ready_at - _seconds(stack.states()["dc"].started))
        _until(lambda: "dc" in stack.ready(stack.states()), "the DC's health check passing")
        _compose(stack, "up", "--detach", "--no-deps", "proxy")
        accepting = _line_at(stack, "proxy", r"Accepting HTTP")
        proxy.append(accepting - _line_at(stack, "proxy", r"winbindd version .* started"))
        check.append(_passing_check(stack, "proxy"))
        for service in SERVICE_NAMES:
            own_work[service].append(_cpu_work(stack, service))
    return dc, proxy, check, own_work           # the last run's lab left up


def _cpu_work(stack: Stack, service: str) -> float:
    """CPU-seconds the service's container has used (its cgroup, as `docker stats`)."""
    container = stack.engine.client.containers.get(stack.states()[service].container_id)
    stats = container.stats(stream=False, one_shot=True)
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def _cli_before_compose(env: dict[str, str]) -> list[float]:
    """From `lab up`'s start to its "starting containers" line (the lab down, nothing
    else running): the CLI's steps before compose is asked."""
    seconds = []
    for _ in range(RUNS):
        _cli_with_nothing_to_do(env, "down")
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said = []
        for line in proc.stderr:
            said.append(line)
            if "starting containers" in line:
                seconds.append(time.monotonic() - started)
                break
        rest = proc.communicate(timeout=BOUND)[1]
        if proc.returncode != 0:
            raise SystemExit(f"lab up failed: {''.join(said)}{rest}")
    _cli_with_nothing_to_do(env, "down")
    return seconds


def _cli_with_nothing_to_do(env: dict[str, str], verb: str) -> float:
    """Seconds `lab VERB` takes (`down` on a lab down, `check` on a lab up)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "lab.cli", verb], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=BOUND)
    return time.monotonic() - started


def _passing_check(stack: Stack, service: str) -> float:
    """Seconds the service's own health check takes when it passes (run until it does:
    winbind may still be settling right after squid's line)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        state = stack.states()[service]
        started = time.monotonic()
        if stack.engine.probe(state):
            return time.monotonic() - started
    raise SystemExit(f"{service}'s health check did not pass within {BOUND:.0f} s")


def _line_at(stack: Stack, service: str, pattern: str) -> float:
    """When docker took the first line of the service's output matching `pattern`."""
    found = re.compile(pattern)
    state = stack.states()[service]

    def line() -> float | None:
        logs = stack.engine.client.api.logs(state.container_id, timestamps=True)
        for text in logs.decode(errors="replace").splitlines():
            stamp, _, rest = text.partition(" ")
            if found.search(rest):
                return _seconds(stamp)
        return None

    return _until(line, f"{service}'s line {pattern!r}")


def _until(what: Callable[[], object], name: str):
    """`what()` once it is truthy. The figures come from docker's timestamps, so how
    often this asks does not enter them; bounded."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)        # docker has no event for a log line's content
    raise SystemExit(f"no {name} within {BOUND:.0f} s")


def _seconds(moment: str) -> float:
    """Docker's RFC 3339 time (nanoseconds, `Z`) as seconds since the epoch."""
    whole, _, fraction = moment.removesuffix("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def _spread(report, what: str, seconds: list[float]) -> None:
    report(f"{what} (min)", min(seconds), "s")
    report(f"{what} (median)", statistics.median(seconds), "s")
    report(f"{what} (max)", max(seconds), "s")
