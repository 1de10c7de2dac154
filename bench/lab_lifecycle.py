"""Cold image builds, warm `lab up` to all-healthy, warm `make lab-up` (its `lab check`
included), `lab down`, `lab up` after the engine restarted: on a private project."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench.measure import cpu_seconds
from bench.rate import spread
from lab.config.discovery import load_config
from lab.config.topology import SERVICE_NAMES
from lab.host import prepare
from lab.stack.lifecycle import Stack
from lab.testing.side_by_side import side_by_side_env

PROJECT = "lab-bench"
SUBNET = "172.29.55.0/24"
RUNS = 5


def private_env() -> dict[str, str]:
    return side_by_side_env(PROJECT, SUBNET)


def private_stack(env: dict[str, str] | None = None) -> Stack:
    return Stack(load_config(environ=env or private_env()))


def make_lab_up(env: dict[str, str]) -> float:
    """Seconds `make lab-up` takes, warm, until its `lab check` has passed."""
    started = time.monotonic()
    subprocess.run(["make", "-s", "lab-up"], cwd=Path(__file__).parent.parent, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def restart_engine() -> bool:
    """Stop this machine's dockerd (every container on it stops, the shared lab's too: the
    next `lab up` brings it back, which is what is measured) and start it again with its
    own command line; False when the engine is not ours to restart (a service manager's,
    another machine's, not root)."""
    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True,
                          text=True).stdout.split()
    if os.geteuid() != 0 or len(pids) != 1 or shutil.which("systemctl") and subprocess.run(
            ["systemctl", "is-active", "--quiet", "docker"], stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL).returncode == 0:
        return False
    command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")[:-1]
    os.kill(int(pids[0]), signal.SIGTERM)
    deadline = time.monotonic() + 120
    while _running(int(pids[0])):
        if time.monotonic() > deadline:
            raise RuntimeError("dockerd did not stop within 120 s")
        time.sleep(0.1)                             # a process's end has no event to wait on here
    with open("/var/log/lab-dockerd.log", "ab") as log:
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    while not prepare.engine_answers():
        if time.monotonic() > deadline:
            raise RuntimeError("dockerd did not answer within 60 s of its restart")
        time.sleep(0.2)                             # the engine's socket has no readiness event
    return True


def _running(pid: int) -> bool:
    """Alive, and not a zombie its parent has yet to reap (an orphaned dockerd's parent
    may be an init that reaps late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def busy_share(seconds: float = 20.0) -> float:
    """Share of all cores busy over `seconds` (`bench.measure.cpu_seconds`)."""
    busy0, total0 = cpu_seconds()
    time.sleep(seconds)                             # measuring a duration, not waiting on one
    busy1, total1 = cpu_seconds()
    return 100.0 * (busy1 - busy0) / max(1e-9, total1 - total0)


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
    ups, downs, noops, busy = [], [], [], []
    for _ in range(RUNS):
        started, (busy0, _all0) = time.monotonic(), cpu_seconds()
        stack.up()
        ups.append(time.monotonic() - started)
        busy.append(cpu_seconds()[0] - busy0)
        started = time.monotonic()
        stack.up()
        noops.append(time.monotonic() - started)
        started = time.monotonic()
        stack.down()
        downs.append(time.monotonic() - started)
    spread(report, "warm lab up, until all healthy", ups)
    # its floor: a start keeps every core busy, so its CPU work over the cores bounds it
    cores = os.cpu_count() or 1
    report("warm lab up: the machine busy (median)", statistics.median(busy), "CPU-s")
    report(f"warm lab up: that work over {cores} cores (median)",
           statistics.median(busy) / cores, "s")
    spread(report, "lab up when already up (no-op)", noops)
    spread(report, "lab down", downs)
    env = private_env()
    stack = private_stack(env)
    makes = []
    for _ in range(RUNS):
        stack.down()
        makes.append(make_lab_up(env))
    spread(report, "warm make lab-up, lab check included", makes)
    recoveries = []
    for _ in range(3):
        stack.up()
        if not restart_engine():
            break
        started = time.monotonic()
        stack.up()
        recoveries.append(time.monotonic() - started)
    if recoveries:
        spread(report, "lab up after the engine restarted", recoveries)
    stack.down()
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
