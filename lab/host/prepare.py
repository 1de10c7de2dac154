"""Make this host ready to run the lab: Docker engine, Compose v2, base image, clients.

Each `ensure_*` step is idempotent and cheap when there is nothing to do, so
`lab up` can call all of them every time. Steps that install software only do
so on Debian 12/13 as root; anywhere else they stop with a `HostError` that
says what to install by hand.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lab.commands import Background
from lab.errors import HostError
from lab.host import local_engine
from lab.host.apt import (
    _apt_install,
    _debian_mirror,
    _install_trixie_compose,
    _quiet,
    _require_installable,
    _run,
)

Say = Callable[[str], None]

#: The base image the Dockerfiles default to (users with a registry keep it).
UPSTREAM_BASE_IMAGE = "debian:bookworm-slim"
#: What we make (mmdebstrap, `RootFilesystem`) when no registry answers.
LOCAL_BASE_IMAGE = "lab-base/debian:bookworm"

#: Client programs `lab check` and the README's tour use, and the Debian package of each.
CLIENT_TOOLS = {"curl": "curl", "dig": "bind9-dnsutils", "ldapsearch": "ldap-utils",
                "kinit": "krb5-user"}
#: What only the test suite uses besides: the real clients it proves the lab with, and
#: what building the Kerberos Python bindings (gssapi, krb5) needs. `make test` installs
#: them; `make lab-up` does not wait for them.
TEST_TOOLS = {"wget": "wget", "openssl": "openssl", "node": "nodejs", "git": "git",
              "krb5-config": "libkrb5-dev", "gcc": "gcc", "java": "openjdk-17-jdk-headless",
              "javac": "openjdk-17-jdk-headless", "keytool": "openjdk-17-jdk-headless",
              "pactester": "libpacparser1", "proxy": "libproxy-tools", "go": "golang-go",
              "npm": "npm", "chromium": "chromium"}
#: libproxy runs no PAC without a JavaScript plugin: its WebKit one, as a file.
LIBPROXY_WEBKIT = "/usr/lib/*/libproxy/*/modules/pacrunner_webkit.so"

_ENGINE_START_TIMEOUT = 60
_DOCKERD_LOG = Path("/var/log/lab-dockerd.log")
#: iptables' legacy backend, for an engine lab.host installs. dockerd runs iptables ~11
#: times per published port as a container starts, and again as it stops (the lab
#: publishes 17); Debian 12's default, iptables-nft, costs ~10 ms a call on 2 cores,
#: legacy ~2.5 ms (docs/benchmarks.md: what it does to `lab down`).
LEGACY_IPTABLES = {"ip6tables": "/usr/sbin/ip6tables-legacy",
                   "iptables": "/usr/sbin/iptables-legacy"}


def engine_answers() -> bool:
    """The engine answers, and the docker CLI that compose runs under is there."""
    path = local_engine.socket_path()
    if path is not None and shutil.which("docker") is not None \
            and local_engine.status(path, "/_ping") == 200:
        return True
    return _quiet(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15).returncode == 0


def ensure_engine(say: Say) -> None:
    """A Docker engine answers (`engine_answers`), installing and starting it if need be."""
    if engine_answers():
        return
    from lab.config.dockerhost import docker_host, engine_address

    remote = docker_host(os.environ)
    if engine_address(remote) is not None:      # not ours to install or start
        raise HostError(f"the Docker engine at {remote} (DOCKER_HOST or the docker context) "
                        "does not answer: start it, or unset DOCKER_HOST for a local one")
    if shutil.which("dockerd") is None:
        _require_installable("the Docker engine")
        say("installing the Docker engine (docker.io)")
        _apt_install(["docker.io"], say)
        if engine_answers():          # the package started it (systemd): as it is
            return
        use_legacy_iptables(say)      # now, before dockerd's first start, or never
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


def use_legacy_iptables(say: Say) -> None:
    """iptables (and ip6tables) through the legacy backend (`LEGACY_IPTABLES`): where
    Debian ships it, this kernel has its tables, and no dockerd runs or has left its
    chains in nft (both backends see every packet: a DROP left in one drops what the
    other lets through). Best effort: a failure is said, and dockerd starts on what is
    there."""
    if not all(Path(path).exists() for path in LEGACY_IPTABLES.values()):
        return
    if _quiet([LEGACY_IPTABLES["iptables"], "-t", "nat", "-n", "-L"]).returncode != 0:
        return                                  # no legacy tables in this kernel
    if (_quiet(["pidof", "dockerd"]).returncode == 0
            or _quiet(["iptables-nft", "-t", "nat", "-n", "-L", "DOCKER"]).returncode == 0):
        return                                  # an engine runs, or ran, on nft
    say("iptables: the legacy backend, for dockerd's rules (~4x cheaper per published "
        "port; `update-alternatives --auto iptables` undoes it)")
    for name, path in LEGACY_IPTABLES.items():
        done = _quiet(["update-alternatives", "--set", name, path])
        if done.returncode != 0:
            say(f"iptables: {name} left as it was: {(done.stderr or done.stdout).strip()}")
            return


def compose_answers() -> bool:
    """Compose v2 is there: its plugin where the docker CLI looks (nothing run), else
    as `docker compose version` says."""
    return local_engine.compose_plugin() is not None or _compose_runs()


def _compose_runs() -> bool:
    """`docker compose version --short` says 2 or later (`2.26.1`, `v2.5.0`, `5.0.0`)."""
    proc = _quiet(["docker", "compose", "version", "--short"])
    major = proc.stdout.strip().removeprefix("v").split(".", 1)[0]
    return proc.returncode == 0 and major.isdigit() and int(major) >= 2


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
    if not _compose_runs():
        raise HostError("Docker Compose v2 was installed but `docker compose version` "
                        "still fails; check /usr/libexec/docker/cli-plugins")


def _image_exists(name: str) -> bool:
    path = local_engine.socket_path()
    if path is not None:
        answer = local_engine.status(path, f"/images/{name}/json")
        if answer in (200, 404):
            return answer == 200
    return _quiet(["docker", "image", "inspect", name]).returncode == 0


def present_base_image(upstream: Callable[[], bool] = lambda: _image_exists(UPSTREAM_BASE_IMAGE),
                       local: Callable[[], bool] = lambda: _image_exists(LOCAL_BASE_IMAGE),
                       ) -> str | None:
    """The base image in the engine to build from: the registry's if it is there, else
    ours; None if neither. Each is asked only if need be."""
    if upstream():
        return UPSTREAM_BASE_IMAGE
    return LOCAL_BASE_IMAGE if local() else None


def registry_answers(host: str = "registry-1.docker.io", timeout: float = 3.0) -> bool:
    """Whether Docker Hub's registry takes a connection from here (a pull may then work)."""
    import socket

    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


class RootFilesystem:
    """Debian bookworm's minimal root file system (minbase), as a tar file, made by
    mmdebstrap (one apt run: ~20 s where debootstrap takes ~32 s, and half its CPU),
    started ahead, in the background: it needs neither Docker nor the venv, only
    Debian's mirror, so a fresh machine makes it while apt installs the engine and pip
    the venv. `close()` stops it if it still runs and removes its file."""

    def __init__(self, say: Say):
        if shutil.which("mmdebstrap") is None:
            _require_installable("mmdebstrap")
            _apt_install(["mmdebstrap"], say)
        self._tmp = tempfile.TemporaryDirectory(prefix="lab-base-")
        self.tarball = Path(self._tmp.name) / "rootfs.tar"
        say("Debian bookworm's root file system (mmdebstrap), in the background")
        self._mmdebstrap = Background(
            # Its package lists stay in the image: each image's `apt-get update` then
            # finds them current, instead of five fetching and unpacking them again.
            # dpkg without an fsync per file, apt without translations (what the
            # official images' docker-apt-speedup did): here and in every image's build,
            # as both stay in the image's /etc (dpkg.cfg.d, apt.conf.d)
            ["mmdebstrap", "--quiet", "--variant=minbase", "--skip=cleanup/apt/lists",
             "--dpkgopt=force-unsafe-io", '--aptopt=Acquire::Languages "none"',
             "bookworm", str(self.tarball), _debian_mirror()],
            error=HostError, what="mmdebstrap of Debian bookworm",
            missing="mmdebstrap is not installed")

    def wait(self, timeout: float = 900) -> Path:
        """The finished tar file; HostError with mmdebstrap's last lines if it failed."""
        self._mmdebstrap.wait(timeout)
        return self.tarball

    def close(self) -> None:
        self._mmdebstrap.stop()
        self._tmp.cleanup()


def ensure_base_image(say: Say, ahead: RootFilesystem | None = None) -> str:
    """Name of a Debian bookworm image to build from: the registry's, or one we make
    (from `ahead`'s root file system, if one was started)."""
    present = present_base_image()
    if present:
        return present
    if ahead is None:                   # (started ahead: no registry answered then)
        say(f"pulling {UPSTREAM_BASE_IMAGE}")
        if _quiet(["docker", "pull", UPSTREAM_BASE_IMAGE], timeout=120).returncode == 0:
            return UPSTREAM_BASE_IMAGE
    say(f"no registry answers: making {LOCAL_BASE_IMAGE} (mmdebstrap, ~20 s)")
    started = ahead or RootFilesystem(say)
    try:
        _run(["docker", "import", str(started.wait()), LOCAL_BASE_IMAGE],
             "docker import of the base image")
    finally:
        if ahead is None:
            started.close()
    return LOCAL_BASE_IMAGE


def base_image_name() -> str:
    """The base image to build from, without installing or pulling anything: ours when
    only ours exists (no registry here), else the registry's (compose pulls it)."""
    return present_base_image() or UPSTREAM_BASE_IMAGE


def python_headers_missing() -> bool:
    """No Python.h for this Python: the Kerberos bindings' source build would fail."""
    import sysconfig

    return not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()


def ensure_client_tools(say: Say, *, tests: bool = False) -> None:
    """curl, dig, ldapsearch and kinit, as `lab check` and the README use them; with
    `tests`, the test suite's clients too, and what building the Kerberos Python
    bindings needs (gcc, libkrb5-dev, and python3-dev: a fresh Debian has no Python.h),
    and libproxy's WebKit plugin."""
    wanted = {**CLIENT_TOOLS, **(TEST_TOOLS if tests else {})}
    missing = sorted({pkg for tool, pkg in wanted.items() if shutil.which(tool) is None}
                     | ({"python3-dev"} if tests and python_headers_missing() else set())
                     | ({"libproxy1-plugin-webkit"} if tests and not glob.glob(LIBPROXY_WEBKIT)
                        else set()))
    if not missing:
        return
    _require_installable(", ".join(missing), "test-tools" if tests else "lab-up")
    say("installing client tools: " + ", ".join(missing))
    _apt_install(missing, say)


def prepare(say: Say, *, clients: bool = False) -> str:
    """Everything `lab up` needs from the host; returns the base image to build from."""
    base_image = _ready_as_is()
    if base_image is None:
        ensure_engine(say)
        ensure_compose(say)
    if clients:
        ensure_client_tools(say)
    return base_image or ensure_base_image(say)


def _ready_as_is() -> str | None:
    """The base image to build from when the engine and Compose answer and it is there
    (every `lab up` but the first), else None. A local engine is asked on its socket,
    ~2 ms a question; any other side by side, each question a `docker` run (~0.05-0.1 s)
    before anything else can start."""
    if local_engine.socket_path() is not None:
        if not (engine_answers() and compose_answers()):
            return None
        return present_base_image()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        engine, compose = pool.submit(engine_answers), pool.submit(compose_answers)
        upstream = pool.submit(_image_exists, UPSTREAM_BASE_IMAGE)
        local = pool.submit(_image_exists, LOCAL_BASE_IMAGE)
        if not (engine.result() and compose.result()):
            return None
        return present_base_image(upstream.result, local.result)


def base_image_must_be_made() -> bool:
    """Neither base image is in an engine that answers, and no registry answers: the
    base image will be made here (`RootFilesystem`)."""
    if engine_answers() and present_base_image():
        return False
    return not registry_answers()


#: The progress lines' name of each part (`make lab-up` numbers the steps it shows).
STEPS = {"tools": "2/5 host: Docker engine, Compose, client tools",
         "test_tools": "the test suite's clients",
         "base_image": "3/5 base image"}


def main(argv: list[str] | None = None) -> int:
    """`python -m lab.host [--tools] [--test-tools] [--base-image]`: prepare the host for
    the lab (`--tools`: engine, Compose, the lab's clients; `--base-image`) and for its
    tests (`--test-tools`: the clients the suite uses); with no option, everything. Runs
    on the system's python3 (it needs nothing of the venv): `make lab-up` runs it beside
    the venv's pip, and with `--tools --base-image` mmdebstrap runs beside apt."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m lab.host")
    parser.add_argument("--tools", action="store_true",
                        help="Docker engine, Compose, client tools")
    parser.add_argument("--test-tools", action="store_true",
                        help="the clients the test suite uses, and the Kerberos build's needs")
    parser.add_argument("--base-image", action="store_true")
    args = parser.parse_args(argv)
    everything = not (args.tools or args.test_tools or args.base_image)
    parts = [part for part in STEPS if everything or getattr(args, part)]
    started = time.monotonic()
    part = parts[0]

    def say_as(name: str) -> Say:
        def say(message: str) -> None:
            print(f"lab: [{STEPS[name]}] {message} ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr, flush=True)
        return say

    def stop(_signum, _frame) -> None:
        raise SystemExit(143)           # a TERM unwinds like Ctrl-C: mmdebstrap stopped too

    previous = signal.signal(signal.SIGTERM, stop)
    ahead = None
    try:
        # every run but the first: the engine, Compose and the base image are there,
        # asked once (`_ready_as_is`), and nothing of them is asked again
        ready = _ready_as_is() if {"tools", "base_image"} & set(parts) else None
        if {"tools", "base_image"} <= set(parts) and ready is None \
                and base_image_must_be_made():
            part = "base_image"
            ahead = RootFilesystem(say_as(part))
        for part in parts:
            say = say_as(part)
            if part == "tools":
                if ready is None:
                    ensure_engine(say)
                    ensure_compose(say)
                ensure_client_tools(say)
                if ready is None and ahead is None and shutil.which("mmdebstrap") is None \
                        and not present_base_image():
                    _require_installable("mmdebstrap")
                    _apt_install(["mmdebstrap"], say)   # here, not beside the pip build
            elif part == "test_tools":
                ensure_client_tools(say, tests=True)
            else:
                say(f"base image: {ready or ensure_base_image(say, ahead)}")
            say("done")
    except HostError as exc:
        print(f"lab: error: [{STEPS[part]}] {exc}", file=sys.stderr)
        return 1
    finally:
        if ahead is not None:
            ahead.close()
        signal.signal(signal.SIGTERM, previous)
    return 0
