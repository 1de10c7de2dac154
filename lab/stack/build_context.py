"""The images' build context, assembled in the project's state dir.

Why not build from the package directory: it lives in site-packages (or a
checkout), next to much a build should not see. So `lab up` stages exactly what the
Dockerfiles copy, in the layout they expect (`docker-compose.yml`, `images/`,
`lab/*.py`), under `<state dir>/build/`, and compose runs there. No project's
configuration is in it: users and passwords reach the containers when they are
created (`lab.stack.state_files`), so no image holds a password of a project's and
changing one rebuilds nothing. The DC's image holds the packaged default's accounts
(`lab/share/lab.toml`, whose passwords are public), so that a start sets only what a
project changes.

`context_files` is the one list of those files: staging writes it and
`lab.stack.fingerprint` hashes it, so a fingerprint always describes what was built.
Files are read through importlib.resources, so any install works.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

from lab.config.discovery import package_dir
from lab.config.model import LabConfig
from lab.config.topology import SERVICES
from lab.errors import StackError
from lab.files import write_if_changed

COMPOSE_FILE = "docker-compose.yml"
#: The package's own modules and subpackages the images copy in (`lab/...` build inputs).
MODULES: tuple[str, ...] = tuple(sorted({name for service in SERVICES
                                         for name in service.build_inputs
                                         if name.startswith("lab/")}))


def _walk(node: Traversable, prefix: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for child in node.iterdir():
        name = f"{prefix}/{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                files.update(_walk(child, name))
        elif not child.name.endswith((".pyc", ".pyo")):
            files[name] = child.read_bytes()
    return files


def context_files(config: LabConfig) -> dict[str, bytes]:
    """Build-context path -> content: everything the compose file and images read."""
    package = config.origin.package if config.origin else package_dir(None)
    share = package / "share"
    try:
        files = {COMPOSE_FILE: (share / COMPOSE_FILE).read_bytes(),
                 **_walk(share / "images", "images")}
        for module in MODULES:            # a module, or a subpackage (lab/faults)
            node = package / module.removeprefix("lab/")
            files.update(_walk(node, module) if node.is_dir() else {module: node.read_bytes()})
    except FileNotFoundError as exc:
        raise StackError(f"the lab package at {package} is incomplete ({exc.filename} is "
                         "missing): reinstall lab") from None
    return dict(sorted(files.items()))


def _mode(content: bytes) -> int:
    # the Dockerfiles run scripts straight from COPY: a script needs its x bit,
    # whatever the install kept of the package's file modes
    return 0o755 if content.startswith(b"#!") else 0o644


def stage(config: LabConfig) -> Path:
    """Write the build context (only what changed, each file replaced atomically: a
    `lab status` may stage while a `lab up` builds); remove files no longer in it."""
    target = config.build_dir
    files = context_files(config)
    for name, content in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, content, _mode(content))
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target).as_posix()
        if path.is_file() and relative not in files and not path.name.startswith("."):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return target
