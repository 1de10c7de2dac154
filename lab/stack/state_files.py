"""Files `lab up` makes on this host that containers need: TLS material, the PAC, and
the effective configuration with its users and passwords (dc and proxy apply it at
each start: no image holds a password of a project's, and a changed one only
recreates them).

A container gets its files as one compose `config` with inline `content`: a gzipped
tar archive of them (`archives`; base64, as a compose variable is text), which its image's
`unpack-files.sh` unpacks into /etc/lab at each start, before the container's own
command. One archive rather than a config per file: compose copies each config in
with a run of dockerd's own binary, ~0.08 CPU-s and ~0.07 s before the container can
start. Never bind mounts: a bind mount names a path on the ENGINE's machine, which
with a remote engine (`DOCKER_HOST`) is not this one. Each file is part of the
fingerprint of the services that get it: a renewed certificate or a changed PAC
recreates exactly those.
"""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
from dataclasses import dataclass

from lab.config import toml_writer
from lab.config.model import LabConfig
from lab.endpoints import WEB_CA_FILE
from lab.errors import StackError
from lab.stack.certs import BUMP_CA_FILE, WEB_TLS_FILE, ensure_corporate_ca, ensure_web_certificate
from lab.stack.pac_file import HOST_VIEW_FILE, LAB_VIEW_FILE, PAC_DIR, write_pac_files

#: the compose variable of a service's archive (docker-compose.yml's `configs`)
ARCHIVE_VARIABLE = "LAB_FILES_{service}"
#: Linux's bound on one environment string (MAX_ARG_STRLEN), which the archive travels in
#: to compose: `NAME=value` and its NUL
ENVIRONMENT_STRING_MAX = 128 * 1024


@dataclass(frozen=True)
class StateFile:
    name: str                      # in the container, under /etc/lab
    #: in the project's state dir; None: the effective configuration itself (a
    #: project's lab.toml merged onto the packaged default, before environment
    #: overrides), passwords included, which needs no copy on disk
    path: str | None
    mode: int                      # in the container (owner root)
    services: tuple[str, ...]      # whose containers get it


STATE_FILES: tuple[StateFile, ...] = (
    StateFile("web-tls.pem", WEB_TLS_FILE, 0o400, ("web",)),
    StateFile(f"pac/{HOST_VIEW_FILE}", f"{PAC_DIR}/{HOST_VIEW_FILE}", 0o444, ("web",)),
    StateFile(f"pac/{LAB_VIEW_FILE}", f"{PAC_DIR}/{LAB_VIEW_FILE}", 0o444, ("web",)),
    # the corporate CA (key + certificate) the bump port re-signs origins with, and the
    # web CA it verifies the origin by
    StateFile("bump-ca.pem", BUMP_CA_FILE, 0o400, ("proxy",)),
    StateFile("web-ca.pem", WEB_CA_FILE, 0o444, ("proxy",)),
    StateFile("lab.toml", None, 0o400, ("dc", "proxy")),
)


def prepare(config: LabConfig) -> None:
    """Make (or renew) every state file: before fingerprints are taken."""
    ensure_web_certificate(config)
    ensure_corporate_ca(config)
    write_pac_files(config)


def contents(config: LabConfig) -> dict[str, str]:
    """name -> content, "" for a file not made yet (`prepare` makes them)."""
    result = {}
    for state_file in STATE_FILES:
        if state_file.path is None:
            result[state_file.name] = toml_writer.dumps(config.document)
            continue
        try:
            result[state_file.name] = (config.state_dir / state_file.path).read_text()
        except FileNotFoundError:
            result[state_file.name] = ""
    return result


def of_service(service: str) -> tuple[StateFile, ...]:
    return tuple(f for f in STATE_FILES if service in f.services)


def archive(files: list[tuple[StateFile, str]]) -> str:
    """The files as a gzipped tar archive, base64: the same bytes for the same files (no
    times, owner root), so that compose sees no change where there is none."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for state_file, content in sorted(files, key=lambda pair: pair[0].name):
            data = content.encode()
            member = tarfile.TarInfo(state_file.name)
            member.size, member.mode, member.mtime = len(data), state_file.mode, 0
            member.uname = member.gname = "root"
            tar.addfile(member, io.BytesIO(data))
    return base64.b64encode(gzip.compress(buffer.getvalue(), mtime=0)).decode()


def archives(config: LabConfig) -> dict[str, str]:
    """Compose variable -> the archive of a service's files, for each service with some."""
    made = contents(config)
    services = sorted({service for state_file in STATE_FILES for service in state_file.services})
    result = {}
    for service in services:
        variable = ARCHIVE_VARIABLE.format(service=service.upper())
        result[variable] = archive([(f, made[f.name]) for f in of_service(service)])
        if len(variable) + len(result[variable]) + 2 > ENVIRONMENT_STRING_MAX:
            raise StackError(f"the files for the {service} container (lab.toml, certificates, "
                             f"PACs) come to {len(result[variable]) // 1024} KiB packed, over "
                             f"the {ENVIRONMENT_STRING_MAX // 1024} KiB one environment "
                             "variable can hold on Linux: shorten lab.toml")
    return result
