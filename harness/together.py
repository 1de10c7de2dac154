"""Run commands side by side, each line of their output prefixed with its name.

`make integration` runs the exclusive phase (a paused DC, faults: one test at a time,
mostly waiting) beside the tests that start labs of their own (mostly CPU), so the
two overlap instead of adding up:

    python -m harness.together exclusive='pytest -m exclusive' private='pytest -m private_lab'

Each command leads a process group of its own. Ctrl-C or SIGTERM of this runner sends
each group SIGINT, as a terminal would (pytest then runs its teardown: a paused DC is
thawed, private labs go down), and kills what is still there after `TEARDOWN_BOUND`.
The exit code is that of the first failing command in argument order (128 + N for
one killed by signal N), else 0.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time


def _relay(name: str, stream, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        with lock:
            sys.stdout.buffer.write(f"[{name}] ".encode() + line)
            sys.stdout.buffer.flush()
    stream.close()


#: how long an interrupted command may take for its teardown before it is killed
TEARDOWN_BOUND = 120.0


def _interrupt(procs: dict[str, subprocess.Popen]) -> None:
    """SIGINT to every group still running, then SIGKILL past the bound."""
    running = [p for p in procs.values() if p.poll() is None]
    for proc in running:
        _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + TEARDOWN_BOUND
    for proc in running:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run(commands: dict[str, str]) -> int:
    lock = threading.Lock()
    procs: dict[str, subprocess.Popen] = {}
    relays = []
    try:
        for name, command in commands.items():
            proc = procs[name] = subprocess.Popen(
                shlex.split(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
            relay = threading.Thread(target=_relay, args=(name, proc.stdout, lock))
            relay.start()
            relays.append(relay)
        codes = {name: proc.wait() for name, proc in procs.items()}
    except BaseException:                   # Ctrl-C or SIGTERM: let each tear down
        _interrupt(procs)
        raise
    finally:
        for proc in procs.values():         # what a command's own children left behind
            _signal_group(proc, signal.SIGTERM)
        for relay in relays:
            relay.join()
    failed = [name for name, code in codes.items() if code != 0]
    for name in failed:
        print(f"[{name}] failed (exit {codes[name]}): {commands[name]}", flush=True)
    code = codes[failed[0]] if failed else 0
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    commands = {}
    for arg in argv:
        name, sep, command = arg.partition("=")
        if not sep or not name or not command.strip():
            print(f"together: {arg!r} is not NAME=COMMAND", file=sys.stderr)
            return 2
        commands[name] = command
    if not commands:
        print("usage: python -m harness.together NAME=COMMAND ...", file=sys.stderr)
        return 2
    def terminated(*_args) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    try:
        return run(commands)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
