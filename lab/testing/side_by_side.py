"""Another lab next to the default one: its own compose project, subnet and free
ports (what the tests and `make bench` use)."""

from __future__ import annotations

import fcntl
import json
import os
import random
import socket
import tempfile
from pathlib import Path

from lab.config.discovery import load_config
from lab.files import write_atomic
from lab.testing.leases import alive

#: Where ports are picked: below Linux's ephemeral range (32768-60999), so that no
#: outgoing connection takes a picked port before its lab publishes it.
PORT_RANGE = range(20000, 32000)
#: Per user: another user's file in a shared /tmp is not ours to lock or replace.
_RESERVATIONS = Path(tempfile.gettempdir()) / f"lab-port-reservations-{os.getuid()}.json"


def _bindable(port: int) -> bool:
    """Free on 127.0.0.1 for both TCP and UDP (DNS and Kerberos publish both)."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            tcp.bind(("127.0.0.1", port))
            udp.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port free on 127.0.0.1 for TCP and UDP, and reserved for this process: labs
    started side by side from other processes (pytest-xdist workers) never get it
    while this one lives, though nothing listens on it until its lab is up."""
    with open(_RESERVATIONS.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # released when the file closes
        try:
            reserved = json.loads(_RESERVATIONS.read_text())
        except (OSError, ValueError):
            reserved = {}
        reserved = {port: pid for port, pid in reserved.items() if alive(pid)}
        for _ in range(10_000):
            port = random.choice(PORT_RANGE)
            if str(port) not in reserved and _bindable(port):
                reserved[str(port)] = os.getpid()
                write_atomic(_RESERVATIONS, json.dumps(reserved).encode())
                return port
    raise OSError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1} on 127.0.0.1")


def side_by_side_env(project: str, subnet: str, root: Path | None = None,
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a lab named `project` on `subnet`, with ports nobody uses."""
    env = dict(os.environ if base is None else base, LAB_PROJECT=project, LAB_SUBNET=subnet)
    if root is not None:
        env["LAB_ROOT"] = str(root)
    for name in load_config(root, environ=env).ports:
        env[f"LAB_PORT_{name.upper()}"] = str(free_port())
    return env
