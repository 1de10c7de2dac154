"""Processes for the fault tests, all on 127.0.0.1: an origin (lab.web.server), the
fault server (python -m lab.faults) in front of it, and real curl through it.
Each waits only on the process's own output, bounded by a deadline."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 20.0


def start(module: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)


_TRACEBACK = b"Traceback (most recent call last)"


def _drain(process: subprocess.Popen) -> None:
    """Keep reading the process's output after its ready line, so a chatty process
    (lab.web logs every request) never blocks on a full pipe; `stop` joins it.
    `process.tracebacks` counts the Python tracebacks it printed meanwhile."""
    fd = process.stdout.fileno()
    process.tracebacks = 0

    def read() -> None:
        tail = b""                  # too short to hold a whole marker: none counted twice
        while chunk := os.read(fd, 65536):
            window = tail + chunk
            process.tracebacks += window.count(_TRACEBACK)
            tail = window[-(len(_TRACEBACK) - 1):]

    process.drainer = threading.Thread(target=read, daemon=True)
    process.drainer.start()


def wait_for_line(process: subprocess.Popen, needle: str) -> str:
    """The first whole output line containing `needle` (unbuffered reads: a buffered
    readline could hide the line from select()); fails at the deadline or on exit."""
    fd, text = process.stdout.fileno(), ""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        end = time.monotonic() + DEADLINE
        while (left := end - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            text += chunk.decode(errors="replace")
            for line in text.splitlines(keepends=True):
                if needle in line and line.endswith("\n"):
                    _drain(process)
                    return line
    raise AssertionError(f"no {needle!r} from {process.args}; it said:\n{text}")


def stop(process: subprocess.Popen) -> None:
    """Terminate it (kill it if it lingers), read its output to the end, close the pipe."""
    process.terminate()
    try:
        process.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=DEADLINE)
    drainer = getattr(process, "drainer", None)
    if drainer is not None:
        drainer.join(DEADLINE)
    process.stdout.close()


def start_origin() -> tuple[subprocess.Popen, str]:
    """lab.web.server on 127.0.0.1, HTTP only in use; returns (process, "127.0.0.1:PORT")."""
    process = start("lab.web", "--interface", "127.0.0.1", "--port", "0",
                    "--https-port", "0")
    url = wait_for_line(process, "serving").split()[-3]
    return process, url.split("//")[1].rstrip("/")


def start_faults(*proxies: tuple[str, str]) -> tuple[subprocess.Popen, dict]:
    """python -m lab.faults with (name, upstream) proxies on ephemeral ports; returns
    (process, its ready line: {"api": "127.0.0.1:P", "proxies": {name: listen}})."""
    args = [a for name, upstream in proxies for a in ("--proxy", name, "127.0.0.1:0", upstream)]
    process = start("lab.faults", *args, "--api", "127.0.0.1:0", "--seed", "1")
    return process, json.loads(wait_for_line(process, '"api"'))


@dataclass
class Curl:
    exit: int
    status: int
    seconds: float
    size: int
    body: bytes
    stderr: str


def curl(url: str, *args: str, max_time: float = 10.0) -> Curl:
    """Real curl; the body, exit code, status, time_total and size_download."""
    result = subprocess.run(
        ["curl", "-sS", "--max-time", str(max_time), "-w", "\n%{http_code} %{time_total} "
         "%{size_download}", *args, url], capture_output=True, timeout=max_time + DEADLINE)
    body, _, meta = result.stdout.rpartition(b"\n")
    status, seconds, size = meta.split()
    return Curl(result.returncode, int(status), float(seconds), int(size), body,
                result.stderr.decode(errors="replace"))
