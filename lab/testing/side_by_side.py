"""Another lab next to the default one: its own compose project, subnet and free
ports (what the tests and `make bench` use)."""

from __future__ import annotations

import os
from pathlib import Path

from lab.config.discovery import load_config
from lab.testing.ports import free_port


def side_by_side_env(project: str, subnet: str, root: Path | None = None,
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a lab named `project` on `subnet`, with ports nobody uses."""
    env = dict(os.environ if base is None else base, LAB_PROJECT=project, LAB_SUBNET=subnet)
    if root is not None:
        env["LAB_ROOT"] = str(root)
    for name in load_config(root, environ=env).ports:
        env[f"LAB_PORT_{name.upper()}"] = str(free_port())
    return env
