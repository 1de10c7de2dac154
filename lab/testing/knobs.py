"""The lab plugin's knobs, and the session's lab they choose (part of `lab.testing.plugin`).

In the style of pytest-docker: each knob is a session fixture a project may
override in its conftest.py, and whose default reads an environment variable:

- `lab_config_file`: the lab.toml (default: LAB_CONFIG, else a lab.toml found from
  pytest's rootdir upwards, else None: the packaged default);
- `lab_project_name`: the compose project (default: LAB_PROJECT, else the file's);
- `lab_keep`: leave a lab this session started up at the end (default: LAB_KEEP).

Discovery starts at pytest's rootdir, not the current directory: `pytest
path/to/project/tests` from anywhere finds the project's own lab.toml.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_FALSE = {"", "0", "false", "no", "off"}


def _say(message: str) -> None:
    print(f"lab: {message}", flush=True)


@pytest.fixture(scope="session")
def lab_config_file(pytestconfig) -> Path | None:
    """The lab.toml this session's lab comes from; None: the packaged default alone."""
    from lab.config.discovery import find

    return find(None, None, dict(os.environ), pytestconfig.rootpath).file


@pytest.fixture(scope="session")
def lab_project_name() -> str | None:
    """The lab's compose project name; None: the one the configuration gives."""
    return os.environ.get("LAB_PROJECT") or None


@pytest.fixture(scope="session")
def lab_keep() -> bool:
    """Leave a lab that this session brought up running at its end."""
    return os.environ.get("LAB_KEEP", "").strip().lower() not in _FALSE


@pytest.fixture(scope="session")
def lab_config(lab_config_file, lab_project_name, pytestconfig):
    """The session's `lab.config.model.LabConfig`, from the three knobs above."""
    from lab.config.discovery import load_config

    environ = dict(os.environ)
    if lab_project_name:
        environ["LAB_PROJECT"] = lab_project_name
    return load_config(file=lab_config_file, environ=environ, cwd=pytestconfig.rootpath)


@pytest.fixture(scope="session")
def lab_stack(lab_config, lab_keep):
    """The running lab's `Stack`: attaches to a lab that is up (and leaves it up),
    or starts one and takes it down at the end of the session (unless `lab_keep`).
    Under pytest-xdist every worker attaches to one lab; the last worker out takes
    down a lab the workers started (`lab.testing.leases`)."""
    from lab.stack.lifecycle import Stack
    from lab.testing.leases import Leases

    stack = Stack(lab_config)
    leases = Leases(stack.config.state_dir)
    with stack.lock:                   # one worker brings it up; the others wait, attach
        was_up = stack.is_up()
        stack.up(say=_say)
        leases.take(started_it=not was_up)
    yield stack
    with stack.lock:
        if leases.release() and not lab_keep:
            stack.down(say=_say)
