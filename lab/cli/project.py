"""`lab config` and `lab init`: the lab as a dependency of a user's own project.

`lab config` answers "which lab would `lab up` bring up here, and why": the
effective configuration (the project's lab.toml merged onto the packaged
default, then `.env` and the environment) as TOML, passwords masked unless
asked, headed by where it came from. `lab init` writes a commented starter
lab.toml (never over an existing one) and prints what to add to the project's
conftest.py and CI script.
"""

from __future__ import annotations

import argparse
import copy
import importlib.resources
from pathlib import Path
from typing import Any

from lab.cli.common import say as _say
from lab.config import toml_writer
from lab.config.discovery import derive_project, load_config
from lab.config.model import FILE_NAME, LabConfig
from lab.errors import LabError

CONFTEST = '''\
# conftest.py -- the plugin loads itself once lab is installed: its fixtures
# (lab_endpoints, lab_scenario, proxy_auth_settings, tidy_tcp_server, ...) need
# no import. Its knobs are fixtures you may override here (or LAB_CONFIG,
# LAB_PROJECT, LAB_KEEP in the environment):
import pytest


@pytest.fixture(scope="session")
def lab_keep():
    return True        # leave the lab up after the session: the next one starts at once
'''

CI_SCRIPT = '''\
# ci.sh -- as root on Debian 12/13, `lab up` installs Docker and what it needs first
set -eu
pip install corplab        # as your project gets it (not on PyPI yet: a wheel, python -m build)
lab up --check
pytest
lab matrix -- ./your-client {url}      # every corporate-proxy scenario, judged
lab down
'''


def effective_document(config: LabConfig) -> dict[str, Any]:
    """The merged document with what the environment and `.env` changed applied."""
    document = copy.deepcopy(config.document)
    document["lab"]["project"] = config.project
    document["network"]["subnet"] = str(config.subnet)
    document["ports"] = dict(config.ports)
    return document


def _overridden(config: LabConfig, effective: dict[str, Any]) -> list[str]:
    files = config.document
    names = [f"LAB_PORT_{name.upper()}" for name, port in effective["ports"].items()
             if files["ports"].get(name) != port]
    if effective["network"]["subnet"] != files["network"]["subnet"]:
        names.insert(0, "LAB_SUBNET")
    if config.project != files["lab"]["project"]:
        names.insert(0, "LAB_PROJECT")
    return names


def cmd_config(args) -> int:
    config = load_config(file=args.config)
    document = effective_document(config)
    origin = config.origin
    print(f"# lab: the effective configuration of project {config.project!r}")
    print(f"# from: {origin.describe() if origin else config.root}")
    if origin and origin.file and config.document["lab"]["project"] == \
            derive_project(origin.file.parent):
        print("# project name: derived from the file's directory (set [lab] project "
              "to choose one)")
    overridden = _overridden(config, document)
    if overridden:
        print(f"# set by the environment or .env: {', '.join(overridden)}")
    print(f"# state (certificates, the images' build context): {config.state_dir}")
    if not args.show_secrets:
        print("# passwords shown as *** (--show-secrets shows them)")
        document = toml_writer.masked(document)
    print()
    print(toml_writer.dumps(document), end="")
    return 0


def starter_text() -> str:
    """The commented starter lab.toml `lab init` writes (package data)."""
    return (importlib.resources.files("lab") / "share" / "starter.toml").read_text()


def cmd_init(args) -> int:
    directory = Path(args.directory)
    if not directory.is_dir():
        raise LabError(f"{directory} is not a directory")
    target = (directory / FILE_NAME).absolute()
    if target.exists():
        raise LabError(f"{target} already exists; lab init never overwrites it (edit it, "
                       "or remove it first); `lab config` shows what it gives")
    target.write_text(starter_text())
    config = load_config(file=target, environ={})       # what we wrote must load
    _say(f"wrote {target} (project {config.project}; `lab config` shows the whole "
         "configuration)")
    print("Add to your project's conftest.py (optional):\n")
    print(CONFTEST)
    print("And to your CI script:\n")
    print(CI_SCRIPT, end="")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="the effective configuration (TOML) and where "
                            "it came from")
    config.add_argument("--show-secrets", action="store_true",
                        help="show passwords instead of ***")
    config.set_defaults(func=cmd_config)
    init = sub.add_parser("init", help="write a commented starter lab.toml for your project")
    init.add_argument("directory", nargs="?", default=".",
                      help="where to write lab.toml (default: here)")
    init.set_defaults(func=cmd_init)
