"""Running clients: each bounded in time, in a session of its own, killed with its
whole process group; and a gate that keeps runs from meeting squid's cache.

A client may fork (a shell script, a test runner): killing its pid alone
would leave the children running, holding pipes and ports. So every client
leads a new session (`start_new_session`), and its process group is killed at
the bound AND after it exits. Output is kept as a bounded tail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from lab.errors import LabError

TAIL_BYTES = 64 * 1024          # what is kept of each client's stdout and stderr


@dataclass(frozen=True)
class Completed:
    """A bounded client run."""

    exit_code: int | None       # None when killed at the bound
    timed_out: bool
    seconds: float
    stdout: bytes = b""
    stderr: bytes = b""
    began: float = 0.0          # wall clock (squid's logs are): evidence tied by time


class CredentialGate:
    """Lets runs overlap unless they send the same user (`Scenario.credential`'s
    key) different passwords: those wait for each other. Every holder is
    bounded by the run timeout, so every wait is bounded too."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._active: dict[str, tuple[str, int]] = {}     # key -> (password, holders)

    @contextmanager
    def hold(self, credential: tuple[str, str] | None) -> Iterator[None]:
        if credential is None:
            yield
            return
        key, password = credential
        with self._changed:
            self._changed.wait_for(lambda: self._active.get(key, (password, 0))[0] == password)
            self._active[key] = (password, self._active.get(key, (password, 0))[1] + 1)
        try:
            yield
        finally:
            with self._changed:
                held = self._active[key][1] - 1
                if held:
                    self._active[key] = (password, held)
                else:
                    del self._active[key]
                self._changed.notify_all()


def _drain(stream, sink: bytearray) -> None:
    while chunk := stream.read1(65536):
        sink += chunk
        if len(sink) > 2 * TAIL_BYTES:
            del sink[:-TAIL_BYTES]


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Stopped(LabError):
    """The matrix was stopped (Ctrl-C, or a run that failed): no further client is
    started."""


class ProcessGroups:
    """The clients' process groups alive now. `stop()` (on Ctrl-C: the clients
    run in sessions of their own, so the terminal's SIGINT never reaches them)
    kills them all and refuses to start any more, e.g. a run still waiting at
    the `CredentialGate`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alive: set[int] = set()
        self._stopped = False

    def start(self, argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen:
        with self._lock:
            if self._stopped:
                raise Stopped("the matrix was stopped: no further client is started")
            proc = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            self._alive.add(proc.pid)
            return proc

    def end(self, proc: subprocess.Popen) -> None:
        """Kill what is left of `proc`'s group (the group id is the leader's pid)."""
        _kill_group(proc.pid)
        proc.wait()
        with self._lock:
            self._alive.discard(proc.pid)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for pgid in self._alive:
                _kill_group(pgid)


def run_bounded(argv: Sequence[str], env: Mapping[str, str], timeout: float,
                groups: ProcessGroups | None = None) -> Completed:
    """Run `argv` in a new session; after `timeout` seconds kill its process group.
    Its process group is killed after it exits too: a client leaves nothing behind.
    Raises FileNotFoundError/PermissionError when `argv[0]` cannot be run."""
    started, began = time.monotonic(), time.time()
    groups = groups or ProcessGroups()
    proc = groups.start(argv, env)
    out, err = bytearray(), bytearray()
    readers = [threading.Thread(target=_drain, args=(stream, sink), daemon=True)
               for stream, sink in ((proc.stdout, out), (proc.stderr, err))]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        groups.end(proc)
    seconds = time.monotonic() - started
    for reader in readers:
        reader.join(timeout=2)      # bounded: a grandchild that escaped the group may hold a pipe
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    return Completed(None if timed_out else proc.returncode, timed_out, seconds,
                     bytes(out[-TAIL_BYTES:]), bytes(err[-TAIL_BYTES:]), began)
