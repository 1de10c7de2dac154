"""Ports for labs and test servers that run side by side: free, and reserved.

Two pytest-xdist workers that each pick a "free" port with bind(0) can get the same
one, since nothing listens on it until their lab or server is up. So a port picked
here is also written down (a locked file of live pids, per user): no other process
picking here gets it while this one lives, or until `release_port`.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.endpoints import Endpoints
from lab.files import write_atomic
from lab.testing.leases import alive

#: Where ports are picked: below Linux's ephemeral range (32768-60999), so that no
#: outgoing connection takes a picked port before its lab publishes it.
PORT_RANGE = range(20000, 30000)      # the lab.toml default host_ports start at 30000
#: Per user: another user's file in a shared /tmp is not ours to lock or replace.
_RESERVATIONS = Path(tempfile.gettempdir()) / f"lab-port-reservations-{os.getuid()}.json"


def _bindable(port: int, host: str) -> bool:
    """Free on `host` for both TCP and UDP (DNS and Kerberos publish both)."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            tcp.bind((host, port))
            udp.bind((host, port))
        except OSError:
            return False
    return True


@contextmanager
def _reservations() -> Iterator[dict[str, int]]:
    """port -> pid of live reservations, under a lock; what the block leaves is kept."""
    with open(_RESERVATIONS.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # released when the file closes
        try:
            reserved = json.loads(_RESERVATIONS.read_text())
        except (OSError, ValueError):
            reserved = {}
        reserved = {port: pid for port, pid in reserved.items() if alive(pid)}
        yield reserved
        write_atomic(_RESERVATIONS, json.dumps(reserved).encode())


def free_port(ports: range = PORT_RANGE, host: str = "127.0.0.1") -> int:
    """A port of `ports` free on `host` for TCP and UDP, and reserved for this process:
    labs and test servers started side by side from other processes (pytest-xdist
    workers) never get it while this one lives, or until `release_port`."""
    with _reservations() as reserved:
        for _ in range(10_000):
            port = random.choice(ports)
            if str(port) not in reserved and _bindable(port, host):
                reserved[str(port)] = os.getpid()
                return port
    raise OSError(f"no free port in {ports.start}-{ports.stop - 1} on {host}")


def release_port(port: int) -> None:
    """Give back a port `free_port` reserved (its server has stopped)."""
    with _reservations() as reserved:
        reserved.pop(str(port), None)


def host_server_ports(endpoints: Endpoints) -> tuple[int, int]:
    """Two free ports for a test server on `host_interface` (HTTP and HTTPS), within
    the lab's `host_ports`: the only ports of this host its proxies reach."""
    first, last = endpoints.host_ports
    span = range(first, last + 1)
    return free_port(span, endpoints.host_interface), free_port(span, endpoints.host_interface)
