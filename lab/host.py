"""Make this host ready to run the lab: Docker engine, Compose v2, base image, clients.

Each `ensure_*` step is idempotent and cheap when there is nothing to do, so
`lab up` can call all of them every time. Steps that install software only do
so on Debian 12/13 as root; anywhere else they stop with a `HostError` that
says what to install by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lab.errors import HostError

Say = Callable[[str], None]

#: The base image the Dockerfiles default to (users with a registry keep it).
UPSTREAM_BASE_IMAGE = "debian:bookworm-slim"
#: What we build with debootstrap when no registry answers.
LOCAL_BASE_IMAGE = "lab-base/debian:bookworm"

#: Client programs the tests and the README use, and the Debian package of each.
CLIENT_TOOLS = {"curl": "curl", "dig": "bind9-dnsutils", "ldapsearch": "ldap-utils",
                "kinit": "krb5-user", "krb5-config": "libkrb5-dev", "gcc": "gcc"}

_ENGINE_START_TIMEOUT = 60
_DOCKERD_LOG = Path("/var/log/lab-dockerd.log")


def _quiet(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"{cmd[0]}: timed out")


def _run(cmd: list[str], what: str, timeout: float = 900, env: dict | None = None) -> str:
    """Run an install step; on failure raise with the tail of its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HostError(f"{what} failed ({' '.join(cmd)} exited {proc.returncode}):\n{tail}")
    return proc.stdout


def debian_release() -> int | None:
    """Debian's major version (12, 13), or None on anything else."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return None
    if not re.search(r"^ID=\"?debian\"?$", text, re.M):
        return None
    match = re.search(r"^VERSION_ID=\"?(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def _require_installable(what: str) -> int:
    release = debian_release()
    if release not in (12, 13):
        raise HostError(f"{what} is missing and this is not Debian 12 or 13, so lab will "
                        f"not install it: install {what} yourself, then run again")
    if os.geteuid() != 0:
        raise HostError(f"{what} is missing; installing it needs root: run "
                        "`sudo make lab-up` once, or install it yourself")
    return release


_apt_updated = False


def _apt_install(packages: list[str], say: Say) -> None:
    global _apt_updated
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        say("apt-get update")
        _run(["apt-get", "update"], "apt-get update", env=env)
        _apt_updated = True
    say(f"apt-get install {' '.join(packages)}")
    _run(["apt-get", "install", "-y", "--no-install-recommends", *packages],
         f"installing {', '.join(packages)}", env=env)


def engine_answers() -> bool:
    return _quiet(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15).returncode == 0


def ensure_engine(say: Say) -> None:
    """A Docker engine answers `docker info`, installing and starting it if need be."""
    if engine_answers():
        return
    if shutil.which("dockerd") is None:
        _require_installable("the Docker engine")
        say("installing the Docker engine (docker.io)")
        _apt_install(["docker.io"], say)
    if os.geteuid() != 0:
        raise HostError("no Docker engine answers and starting dockerd needs root: "
                        "start Docker (e.g. `sudo systemctl start docker`) or add "
                        "yourself to the docker group")
    say(f"starting dockerd (log: {_DOCKERD_LOG})")
    with open(_DOCKERD_LOG, "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + _ENGINE_START_TIMEOUT
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(0.5)  # polling an external daemon: there is no event to wait on
    raise HostError(f"dockerd did not answer within {_ENGINE_START_TIMEOUT} s; "
                    f"see {_DOCKERD_LOG}")


def compose_answers() -> bool:
    proc = _quiet(["docker", "compose", "version", "--short"])
    return proc.returncode == 0 and proc.stdout.strip()[:1] in ("2", "v")


def ensure_compose(say: Say) -> None:
    """`docker compose` (v2) works, installing Debian 13's package if need be."""
    if compose_answers():
        return
    release = _require_installable("Docker Compose v2")
    if release == 13:
        say("installing Docker Compose v2 (docker-compose)")
        _apt_install(["docker-compose"], say)
    else:
        _install_trixie_compose(say)
    if not compose_answers():
        raise HostError("Docker Compose v2 was installed but `docker compose version` "
                        "still fails; check /usr/libexec/docker/cli-plugins")


def _debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (containers reach the same one)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        try:
            texts.append(path.read_text())
        except OSError:
            continue
    for text in texts:
        for url in re.findall(r"(?:URIs:|^deb)\s+(\S+)", text, re.M):
            if "debian" in url and "security" not in url:
                return url
    return "http://deb.debian.org/debian"


def _install_trixie_compose(say: Say) -> None:
    """Debian 12 has only Compose v1; Debian 13's v2 package installs cleanly on it.

    apt fetches that one .deb through a temporary sources list and lists
    directory, so the machine's own apt configuration never sees trixie.
    """
    say("installing Docker Compose v2 from Debian 13 (one .deb, temporary sources list)")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "lists" / "partial").mkdir(parents=True)
        (tmpdir / "parts").mkdir()
        (tmpdir / "sources.list").write_text(f"deb {_debian_mirror()} trixie main\n")
        os.chmod(tmp, 0o755)
        options = ["-o", f"Dir::Etc::sourcelist={tmpdir / 'sources.list'}",
                   "-o", f"Dir::Etc::sourceparts={tmpdir / 'parts'}",
                   "-o", f"Dir::State::Lists={tmpdir / 'lists'}",
                   "-o", "APT::Sandbox::User=root"]
        _run(["apt-get", *options, "update"], "reading Debian 13's package list")
        _run(["sh", "-c", f"cd {tmp} && apt-get " + " ".join(options) +
              " download docker-compose"], "downloading docker-compose from Debian 13")
        debs = list(tmpdir.glob("docker-compose_*.deb"))
        if not debs:
            raise HostError("apt did not download docker-compose from Debian 13")
        _run(["dpkg", "-i", str(debs[0])], "installing docker-compose")


def _image_exists(name: str) -> bool:
    return _quiet(["docker", "image", "inspect", name]).returncode == 0


def ensure_base_image(say: Say) -> str:
    """Name of a Debian bookworm image to build from: the registry's, or one we make."""
    if _image_exists(UPSTREAM_BASE_IMAGE):
        return UPSTREAM_BASE_IMAGE
    if _image_exists(LOCAL_BASE_IMAGE):
        return LOCAL_BASE_IMAGE
    say(f"pulling {UPSTREAM_BASE_IMAGE}")
    if _quiet(["docker", "pull", UPSTREAM_BASE_IMAGE], timeout=120).returncode == 0:
        return UPSTREAM_BASE_IMAGE
    say(f"no registry answers: building {LOCAL_BASE_IMAGE} with debootstrap (~30 s)")
    if shutil.which("debootstrap") is None:
        _require_installable("debootstrap")
        _apt_install(["debootstrap"], say)
    with tempfile.TemporaryDirectory(prefix="lab-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), _debian_mirror()],
             "debootstrap of Debian bookworm")
        _run(["sh", "-c", f"tar -C {rootfs} -c . | docker import - {LOCAL_BASE_IMAGE}"],
             "docker import of the base image")
    return LOCAL_BASE_IMAGE


def base_image_name() -> str:
    """The base image to build from, without installing or pulling anything: ours when
    only ours exists (no registry here), else the registry's (compose pulls it)."""
    if not _image_exists(UPSTREAM_BASE_IMAGE) and _image_exists(LOCAL_BASE_IMAGE):
        return LOCAL_BASE_IMAGE
    return UPSTREAM_BASE_IMAGE


def ensure_client_tools(say: Say) -> None:
    """curl, dig, ldapsearch and kinit, as the README and the tests use them; and
    what building the Kerberos Python bindings (gssapi, krb5) needs."""
    missing = sorted({pkg for tool, pkg in CLIENT_TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    _require_installable(", ".join(missing))
    say("installing client tools: " + ", ".join(missing))
    _apt_install(missing, say)


def prepare(say: Say, *, clients: bool = False) -> str:
    """Everything `lab up` needs from the host; returns the base image to build from."""
    ensure_engine(say)
    ensure_compose(say)
    if clients:
        ensure_client_tools(say)
    return ensure_base_image(say)


def main() -> int:
    """`python -m lab.host`: prepare the host for the lab AND its tests (clients too)."""
    import sys

    def say(message: str) -> None:
        print(f"lab: {message}", file=sys.stderr, flush=True)

    try:
        prepare(say, clients=True)
    except HostError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
