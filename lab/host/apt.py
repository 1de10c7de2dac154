"""Installing on Debian: apt, one package from Debian 13 on Debian 12, and running
install steps so that their output shows only when they fail."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from lab.commands import run_command
from lab.errors import HostError

Say = Callable[[str], None]


def _quiet(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"{cmd[0]}: timed out")


def _run(cmd: list[str], what: str, timeout: float = 900, env: dict | None = None) -> str:
    """Run an install step; on failure raise with the tail of its output."""
    return run_command(cmd, error=HostError, what=f"{what} ({' '.join(cmd)})", env=env,
                       missing=f"{cmd[0]} is not installed", timeout=timeout).stdout


def debian_release(os_release: Path = Path("/etc/os-release")) -> int | None:
    """Debian's major version (12, 13), or None on anything else."""
    try:
        text = os_release.read_text()
    except OSError:
        return None
    if not re.search(r"^ID=\"?debian\"?$", text, re.M):
        return None
    match = re.search(r"^VERSION_ID=\"?(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def _require_installable(what: str, make_target: str = "lab-up") -> int:
    release = debian_release()
    if release not in (12, 13):
        raise HostError(f"{what} is missing and this is not Debian 12 or 13, so lab will "
                        f"not install it: install {what} yourself, then run again")
    if os.geteuid() != 0:
        raise HostError(f"{what} is missing; installing it needs root: run "
                        f"`sudo make {make_target}` once, or install it yourself")
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
