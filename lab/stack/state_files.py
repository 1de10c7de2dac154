"""Files `lab up` makes on this host that containers need: TLS material, the PAC, and
the effective configuration with its users and passwords (dc and proxy apply it at
each start: no image holds a password of a project's, and a changed one only
recreates them).

They reach the containers as compose `configs` with inline `content` (compose
copies them in when it creates a container), never as bind mounts: a bind mount
names a path on the ENGINE's machine, which with a remote engine (`DOCKER_HOST`)
is not this one. So each file's content travels in a compose variable, and each
is part of the fingerprint of the services that get it: a renewed certificate or
a changed PAC recreates exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.config import toml_writer
from lab.config.model import LabConfig
from lab.endpoints import WEB_CA_FILE
from lab.stack.certs import BUMP_CA_FILE, WEB_TLS_FILE, ensure_corporate_ca, ensure_web_certificate
from lab.stack.pac_file import HOST_VIEW_FILE, LAB_VIEW_FILE, PAC_DIR, write_pac_files


@dataclass(frozen=True)
class StateFile:
    variable: str                  # the compose variable docker-compose.yml reads
    #: in the project's state dir; None: the effective configuration itself (a
    #: project's lab.toml merged onto the packaged default, before environment
    #: overrides), passwords included, which needs no copy on disk
    path: str | None
    services: tuple[str, ...]      # whose containers get it


STATE_FILES: tuple[StateFile, ...] = (
    StateFile("LAB_WEB_TLS_PEM", WEB_TLS_FILE, ("web",)),
    StateFile("LAB_PAC_HOST", f"{PAC_DIR}/{HOST_VIEW_FILE}", ("web",)),
    StateFile("LAB_PAC_LAB", f"{PAC_DIR}/{LAB_VIEW_FILE}", ("web",)),
    StateFile("LAB_BUMP_CA_PEM", BUMP_CA_FILE, ("proxy",)),
    StateFile("LAB_WEB_CA_PEM", WEB_CA_FILE, ("proxy",)),
    StateFile("LAB_CONFIG_TOML", None, ("dc", "proxy")),
)


def prepare(config: LabConfig) -> None:
    """Make (or renew) every state file: before fingerprints are taken."""
    ensure_web_certificate(config)
    ensure_corporate_ca(config)
    write_pac_files(config)


def contents(config: LabConfig) -> dict[str, str]:
    """variable -> content, "" for a file not made yet (`prepare` makes them)."""
    result = {}
    for state_file in STATE_FILES:
        if state_file.path is None:
            result[state_file.variable] = toml_writer.dumps(config.document)
            continue
        try:
            result[state_file.variable] = (config.state_dir / state_file.path).read_text()
        except FileNotFoundError:
            result[state_file.variable] = ""
    return result


def of_service(service: str) -> tuple[StateFile, ...]:
    return tuple(f for f in STATE_FILES if service in f.services)
