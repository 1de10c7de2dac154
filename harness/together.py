"""Run commands side by side, each line of their output prefixed with its name.

`make integration` runs the exclusive phase (a paused DC, faults: one test at a time,
mostly waiting) beside the tests that start labs of their own (mostly CPU), so the
two overlap instead of adding up:

    python -m harness.together exclusive='pytest -m exclusive' private='pytest -m private_lab'

Each command leads a process group of its own; Ctrl-C or a kill of this runner ends
every group. The exit code is the first failing command's, else 0.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading


def _relay(name: str, stream, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        with lock:
            sys.stdout.buffer.write(f"[{name}] ".encode() + line)
            sys.stdout.buffer.flush()
    stream.close()


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
    finally:
        for proc in procs.values():         # Ctrl-C, or a child's own children left
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for relay in relays:
            relay.join()
    failed = [name for name, code in codes.items() if code != 0]
    for name in failed:
        print(f"[{name}] failed (exit {codes[name]}): {commands[name]}", flush=True)
    return codes[failed[0]] if failed else 0


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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(commands)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
