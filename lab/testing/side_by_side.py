"""Another lab next to the default one: its own compose project, subnet and free
ports (what the tests and `make bench` use)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from lab.config.discovery import load_config


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (DNS and Kerberos publish both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def side_by_side_env(project: str, subnet: str, root: Path | None = None,
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a lab named `project` on `subnet`, with ports nobody uses."""
    env = dict(os.environ if base is None else base, LAB_PROJECT=project, LAB_SUBNET=subnet)
    if root is not None:
        env["LAB_ROOT"] = str(root)
    taken: set[int] = set()
    for name in load_config(root, environ=env).ports:
        port = free_port()
        while port in taken:      # a released port can come back on the next pick
            port = free_port()
        taken.add(port)
        env[f"LAB_PORT_{name.upper()}"] = str(port)
    return env
