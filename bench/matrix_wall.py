"""Wall time of `lab matrix -- curl ...` over the catalogue, with the lab up: every
scenario curl can pass (`pac`, `pac-failover` and `pac-auth` need a PAC engine, which
curl has not; the company
port without a ticket keeps --proxy-anyauth on Negotiate).

Timed as a user sees it: the `lab` process from start to exit (Python start,
endpoints, one kinit, every scenario in parallel, the evidence of every part of the
lab). The goal is under 10 s on 2 cores; the slowest scenario sets the pace. Runs
against the lab named by LAB_PROJECT (default: lab.toml's), bringing one up
and taking it down again if none is up. A run where any scenario fails is an
error, not a figure.

Then what evidence costs: the sum of the per-scenario times over the scenarios with no
built-in wait (no fault, no paused service, no refusal timed), with evidence and with
`--no-evidence`, runs alternating (goal: within 10 %); a four-client grid against one
client (goal: under 2x); and the same matrix while a `lab watch` runs (it must not slow
the lab).
"""

from __future__ import annotations

import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time

from bench.measure import cpu_seconds, memory_mb
from harness.clients import CURL, CURL_ANYAUTH_STUCK, NEEDS_PAC
from harness.ecosystems import GRID, grid_arguments
from lab.scenarios.catalogue import NAMES, spec
from lab.stack.follow import follow_output
from lab.stack.lifecycle import Stack

RUNS = 5
#: what curl cannot pass: it evaluates no PAC file, and its --proxy-anyauth stays on
#: Negotiate on the company port without a ticket
SKIP = NEEDS_PAC + CURL_ANYAUTH_STUCK
#: --max-time 5: curl's own bound, which ends `proxy-stall` (and so sets the pace)
COMMAND = CURL


GRID_RUNS = 3
EVIDENCE_RUNS = 5
#: scenarios whose time is the client's and the lab's own: no toxic, no paused service,
#: no refusal judged on its time
UNWAITED = [n for n in NAMES if spec(n).fault is None and spec(n).pause is None
            and spec(n).within is None and n not in SKIP]


def _timed_matrix(args: list[str], busy: list[float] | None = None) -> float:
    """Wall time of one `lab matrix` with `args` (scenarios and client); failures are
    the clients' (exit 1), anything else an error. `busy` gets the CPU-seconds the
    machine spent meanwhile (clients, `lab`, containers, the engine)."""
    before = cpu_seconds()[0]
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lab.cli", "matrix", "--json", *args],
                          capture_output=True, text=True, timeout=600, env=os.environ)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"lab matrix failed (exit {proc.returncode}): {proc.stderr.strip()}")
    wall = time.monotonic() - started
    if busy is not None:
        busy.append(cpu_seconds()[0] - before)
    return wall


def _summed(extra: list[str]) -> float:
    """The sum of the per-scenario times of one `lab matrix` over UNWAITED."""
    proc = subprocess.run([sys.executable, "-m", "lab.cli", "matrix", "--json", *extra,
                           "--only", ",".join(UNWAITED), "--", *COMMAND],
                          capture_output=True, text=True, timeout=300, env=os.environ)
    if proc.returncode != 0:
        raise SystemExit(f"lab matrix failed (exit {proc.returncode}): "
                         f"{proc.stderr.strip() or proc.stdout[-2000:]}")
    return sum(s["seconds"] for s in json.loads(proc.stdout)["scenarios"])


def _evidence_cost(report) -> None:
    on, off = [], []
    for _ in range(EVIDENCE_RUNS):
        on.append(_summed([]))
        off.append(_summed(["--no-evidence"]))
    report(f"{len(UNWAITED)} unwaited scenarios, sum of times, evidence on (median of "
           f"{EVIDENCE_RUNS})", statistics.median(on), "s")
    report("... evidence off (--no-evidence, median)", statistics.median(off), "s")
    report("evidence on / off (goal <= 1.10)", statistics.median(on) / statistics.median(off),
           "x")


def _watch_cost(report) -> None:
    """The curl matrix's wall with and without a `lab watch` running beside it."""
    without = [_timed_matrix(["--skip", ",".join(SKIP), "--", *COMMAND])
               for _ in range(GRID_RUNS)]
    watch = subprocess.Popen([sys.executable, "-m", "lab.cli", "watch", "--json"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=os.environ)
    try:
        ready, _, _ = select.select([watch.stderr], [], [], 30)
        if not ready or "watching" not in watch.stderr.readline():
            raise SystemExit("lab watch did not start")
        beside = [_timed_matrix(["--skip", ",".join(SKIP), "--", *COMMAND])
                  for _ in range(GRID_RUNS)]
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)
    report(f"lab matrix -- curl, wall without / with a lab watch (median of {GRID_RUNS})",
           statistics.median(without), "s")
    report("... with a lab watch running", statistics.median(beside), "s")
    report("with a lab watch / without (goal ~1.00)",
           statistics.median(beside) / statistics.median(without), "x")


def _helpers_retired(said, bound: float = 20.0) -> bool:
    """Whether the proxy said, within `bound` seconds, that it retired the authentication
    helpers a use started (its entrypoint does once no request has ended for 3 s, and
    says so once they are gone): the lab idle again. `said`: its output, followed
    (`lab.stack.follow.follow_output`) from the end of the use."""
    return said.first(lambda line: "helpers retired" in line, bound) is not None


def _memory_mb(stack: Stack) -> float:
    """What the lab's containers hold (`bench.measure.memory_mb`): the lab as the test
    suite and this bench have used it."""
    client = stack.engine.client
    return sum(memory_mb(client.containers.get(state.container_id))
               for state in stack.states().values())


def run(report) -> None:
    stack = Stack()
    was_up = stack.is_up()
    stack.up()
    try:
        walls, slowest = [], []
        for _ in range(RUNS):
            started = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "lab.cli", "matrix", "--json",
                                   "--skip", ",".join(SKIP), "--",
                                   *COMMAND], capture_output=True, text=True, timeout=120,
                                  env=os.environ)
            walls.append(time.monotonic() - started)
            if proc.returncode != 0:
                raise SystemExit(f"lab matrix failed (exit {proc.returncode}): "
                                 f"{proc.stderr.strip() or proc.stdout[-2000:]}")
            doc = json.loads(proc.stdout)
            slowest.append(max(s["seconds"] for s in doc["scenarios"]))
        count = len(doc["scenarios"])
        report(f"lab matrix -- curl, {count} scenarios, wall (min of {RUNS})", min(walls), "s")
        report("lab matrix -- curl, wall (median)", statistics.median(walls), "s")
        report("lab matrix -- curl, wall (max)", max(walls), "s")
        report("lab matrix -- curl, slowest scenario (median)", statistics.median(slowest), "s")
        # its floor: every full matrix runs proxy-stall, which lasts the client's own bound
        stall = [_timed_matrix(["--only", "proxy-stall", "--", *COMMAND]) for _ in range(RUNS)]
        report("lab matrix's floor: proxy-stall alone, wall (median)",
               statistics.median(stall), "s")
        one, four, cpu = [], [], []
        for _ in range(GRID_RUNS):
            one.append(_timed_matrix(["--", *COMMAND]))
            four.append(_timed_matrix(grid_arguments(), cpu))
        report(f"every scenario, curl alone, wall (median of {GRID_RUNS})",
               statistics.median(one), "s")
        report(f"every scenario, {len(GRID)} clients in one grid, wall (median of "
               f"{GRID_RUNS})", statistics.median(four), "s")
        report("four-client grid / one client (goal < 2)",
               statistics.median(four) / statistics.median(one), "x")
        cores = os.cpu_count() or 1
        report("four-client grid: machine busy meanwhile (median), CPU-seconds",
               statistics.median(cpu), "s")
        report(f"four-client grid: its CPU floor on {cores} cores (busy / cores)",
               statistics.median(cpu) / cores, "s")
        _evidence_cost(report)
        _watch_cost(report)
        said = follow_output(stack, "proxy")           # from the end of its use
        report("memory of the lab (all containers) right after its use", _memory_mb(stack),
               "MB")
        # the goal's figure: the lab idle again, once squid has retired the helpers the
        # use started (the proxy says so; where it says nothing the bound is waited out)
        retired = _helpers_retired(said)
        report("memory of the shared lab (all containers), idle after its use"
               + ("" if retired else " (the proxy said no helpers retired within 20 s)"),
               _memory_mb(stack), "MB")
    finally:
        if not was_up:
            stack.down()
