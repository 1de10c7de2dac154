"""A second, genuine Docker engine on this machine, reachable over TCP: for testing
lab against a remote engine (`DOCKER_HOST=tcp://host:port`, issue 14).

Docker-in-docker from Debian's packages (harness/dind/, no registry needed): the
engine's image is built on the engine the tests use, run privileged (or the same
without a capability the machine lacks, see privilege_options) with a volume
of its own on /var/lib/docker, and given the lab's base image (`docker save | docker
-H ... load`), so that it builds the lab's images without a registry.

    from harness.second_engine import second_engine_fixture  # noqa: F401

    def test_something(second_engine):
        second_engine.docker("run", "--rm", second_engine.base_image, "true")
        subprocess.run([...], env=second_engine.env())    # DOCKER_HOST set

or, outside pytest, `with running_second_engine() as engine: ...`.

Each engine is a container and a volume named `lab-test-engine2-<pid>-<random>`,
labelled `lab.test=second-engine`; both go when the context ends, whatever happened.
What a killed earlier run left (its owner process gone) is removed at the start;
engines of runs still alive (pytest-xdist workers, another checkout) are left alone.
The engine's image (`lab-test/dind:bookworm`) stays, as the lab's images do, so the
next build is a cache hit.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.host import prepare

#: Label on the engine's image, container and volume (the image carries it too).
LABEL = "lab.test=second-engine"
#: "pid:start" of the process that started an engine: a leftover's owner is gone.
OWNER_LABEL = "lab.test.owner"
IMAGE = "lab-test/dind:bookworm"
CONTEXT = Path(__file__).resolve().parent / "dind"
PORT = 2375
READY_TIMEOUT = 60.0
BUILD_TIMEOUT = 900.0

#: Linux capabilities by number (capability.h), to say which ones `--privileged`
#: would ask for that this machine's bounding set does not have.
_CAPS = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
         "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
         "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT "
         "SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE "
         "AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND "
         "AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE").split()


class SecondEngineError(RuntimeError):
    """The second engine could not be built, started or given the base image."""


@dataclass(frozen=True)
class SecondEngine:
    """A running second engine. `docker_host` is what DOCKER_HOST says to reach it;
    `address` is its IP on this machine's docker bridge, where the ports its
    containers publish answer."""

    container: str
    volume: str
    address: str
    base_image: str
    storage_driver: str
    #: Seconds each step took: build (the dind image), ready (until /_ping answers),
    #: load (the base image into the engine).
    timings: dict[str, float] = field(default_factory=dict)
    #: A directory holding the key the engine's sshd accepts, and an `ssh` that uses it.
    ssh_dir: Path | None = None
    #: This machine's address on the engine's network: what the engine sees clients
    #: here come from (LAB_ALLOW must admit it for a lab published on the engine).
    client_address: str = ""

    @property
    def docker_host(self) -> str:
        return f"tcp://{self.address}:{PORT}"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose docker (CLI, Compose, SDK) talks to this engine."""
        env = dict(os.environ if base is None else base)
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(name, None)
        env["DOCKER_HOST"] = self.docker_host
        return env

    def ssh_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose docker (CLI, Compose, SDK) reaches this engine over SSH,
        Docker's own transport (`ssh://root@address`), with this engine's key and host
        key alone: a HOME whose ~/.ssh names them (read by the SDK's paramiko) and an
        `ssh` first on PATH that uses them (run by the CLI and Compose), so the user's
        own SSH setup is neither read nor changed."""
        if self.ssh_dir is None:
            raise SecondEngineError("this engine was started without SSH")
        home = self.ssh_dir / "home"
        known_hosts = home / ".ssh" / "known_hosts"
        if not known_hosts.exists():
            known_hosts.write_text(_host_keys(self.address))
        env = self.env(base)
        env.update(DOCKER_HOST=f"ssh://root@{self.address}", HOME=str(home),
                   PATH=f"{self.ssh_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}")
        return env

    def docker(self, *args: str, timeout: float = 120, check: bool = True,
               input: str | bytes | None = None,
               text: bool = True) -> subprocess.CompletedProcess:
        """`docker -H <this engine> ARGS`; with `check`, a failure raises with its output."""
        proc = subprocess.run(["docker", "-H", self.docker_host, *args], capture_output=True,
                              input=input, text=text, timeout=timeout, env=self.env())
        if check and proc.returncode != 0:
            raise SecondEngineError(f"docker -H {self.docker_host} {' '.join(args)} exited "
                                    f"{proc.returncode}:\n{_tail(proc.stdout, proc.stderr)}")
        return proc

    def disk_usage(self) -> int:
        """Bytes the engine's volume holds (its /var/lib/docker)."""
        out = _docker("exec", self.container, "du", "-sxb", "/var/lib/docker").stdout
        return int(out.split()[0])


# -- the engine this machine's docker CLI talks to ------------------------------


def _tail(*outputs: str | bytes, lines: int = 40) -> str:
    text = "".join(o.decode(errors="replace") if isinstance(o, bytes) else (o or "")
                   for o in outputs)
    return "\n".join(text.strip().splitlines()[-lines:])


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise SecondEngineError(f"docker {' '.join(args)} exited {proc.returncode}:\n"
                                f"{_tail(proc.stdout, proc.stderr)}")
    return proc


def base_image() -> str:
    """The image lab builds from on this machine (lab.host's choice: ours from
    mmdebstrap when no registry answers, else Debian's)."""
    return prepare.base_image_name()


def _image_id(name: str) -> str | None:
    proc = _docker("image", "inspect", "--format", "{{.Id}}", name, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def build_image(base: str) -> str:
    """Build the dind image FROM `base`; quiet, its log shown only when it fails.
    A previous build that the tag moved away from is removed (it was ours)."""
    previous = _image_id(IMAGE)
    try:
        proc = subprocess.run(["docker", "build", "--build-arg", f"BASE_IMAGE={base}",
                               "-t", IMAGE, str(CONTEXT)],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise SecondEngineError(f"building {IMAGE} took over {BUILD_TIMEOUT:.0f} s:\n"
                                f"{_tail(exc.stdout or '', exc.stderr or '')}") from None
    if proc.returncode != 0:
        raise SecondEngineError(f"building {IMAGE} from {base} failed (exit "
                                f"{proc.returncode}):\n{_tail(proc.stdout, proc.stderr)}")
    current = _image_id(IMAGE)
    if previous and previous != current:
        _docker("image", "rm", previous, check=False)   # in use by a live engine: stays
    return IMAGE


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), None when there is none:
    with the pid, it names a process even after its pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _owner() -> str:
    return f"{os.getpid()}:{_process_start(os.getpid())}"


def _owner_alive(labels: dict[str, str] | None) -> bool:
    pid, _, start = (labels or {}).get(OWNER_LABEL, "").partition(":")
    if not pid.isdigit():
        return False
    return _process_start(int(pid)) == start


def remove_leftovers(label: str = LABEL) -> list[str]:
    """Remove the containers and volumes that earlier runs left behind: those with
    `label` (default: our engines') whose owner process is gone. Returns their names."""
    removed = []
    ids = _docker("ps", "-aq", "--filter", f"label={label}").stdout.split()
    if ids:
        for info in json.loads(_docker("inspect", *ids).stdout):
            if not _owner_alive(info["Config"].get("Labels")):
                name = info["Name"].lstrip("/")
                _docker("rm", "-f", name, check=False, timeout=300)
                removed.append(name)
    names = _docker("volume", "ls", "-q", "--filter", f"label={label}").stdout.split()
    if names:
        for info in json.loads(_docker("volume", "inspect", *names).stdout):
            if not _owner_alive(info.get("Labels")):
                if _docker("volume", "rm", info["Name"], check=False).returncode == 0:
                    removed.append(info["Name"])
    return removed


def _missing_capabilities() -> list[str]:
    """Capabilities this machine's bounding set lacks (then runc refuses
    `--privileged`: "unable to apply caps: operation not permitted")."""
    try:
        status = Path("/proc/self/status").read_text()
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return []
    bounding = next((int(line.split()[1], 16) for line in status.splitlines()
                     if line.startswith("CapBnd:")), None)
    if bounding is None:
        return []
    return [name for bit, name in enumerate(_CAPS[:last + 1]) if not bounding >> bit & 1]


def privilege_options() -> list[str]:
    """`--privileged`, or where that cannot work (a capability missing from the
    bounding set, e.g. CAP_SYS_RESOURCE in some VMs and CI sandboxes) its equivalent
    without that capability: every other one, no seccomp or AppArmor profile, all
    devices, /proc unmasked; the entrypoint makes /sys and the cgroups writable."""
    missing = _missing_capabilities()
    if not missing:
        return ["--privileged"]
    options = ["--cap-add", "ALL"]
    for name in missing:
        options += ["--cap-drop", name]
    return options + ["--security-opt", "seccomp=unconfined",
                      "--security-opt", "apparmor=unconfined",
                      "--security-opt", "systempaths=unconfined",
                      "--device-cgroup-rule", "a *:* rwm"]


def _ping(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}:{PORT}/_ping", timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(name: str, address: str, timeout: float) -> None:
    """Until the inner engine answers /_ping: bounded, failing at once if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if _ping(address):
            return
        running = _docker("inspect", "--format", "{{.State.Running}}", name,
                          check=False).stdout.strip()
        if running != "true" or time.monotonic() > deadline:
            logs = _docker("logs", "--tail", "40", name, check=False)
            why = "exited" if running != "true" else f"did not answer within {timeout:.0f} s"
            raise SecondEngineError(f"the second engine ({name}) {why}; its log:\n"
                                    f"{_tail(logs.stdout, logs.stderr)}")
        time.sleep(0.1)


def _load(engine: SecondEngine, image: str) -> None:
    """The outer engine's `image` into the second engine; one the outer engine does
    not have, the second engine pulls (which needs a registry)."""
    if _image_id(image) is None:
        engine.docker("pull", image, timeout=300)
        return
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        load = subprocess.run(["docker", "-H", engine.docker_host, "load", "-q"],
                              stdin=save.stdout, capture_output=True, timeout=300,
                              env=engine.env())
    finally:
        save.stdout.close()
        save_err = save.stderr.read()
        save.stderr.close()
        save.wait(timeout=60)
    if save.returncode != 0 or load.returncode != 0:
        raise SecondEngineError(f"loading {image} into the second engine failed:\n"
                                f"{_tail(save_err, load.stdout, load.stderr)}")


def _remove(name: str) -> None:
    """The engine's container and volume; both are tried, a failure raises after."""
    failures = []
    for args in (("rm", "-f", name), ("volume", "rm", name)):
        proc = _docker(*args, check=False, timeout=120)
        if proc.returncode != 0 and "no such" not in proc.stderr.lower():
            failures.append(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    if failures:
        raise SecondEngineError("removing the second engine failed: " + "; ".join(failures))


@contextmanager
def running_second_engine(base: str | None = None, *, ready_timeout: float = READY_TIMEOUT,
                          storage_driver: str | None = None) -> Iterator[SecondEngine]:
    """A second Docker engine holding the base image, removed (container and volume)
    when the block ends, also when it ends by an exception. `storage_driver` forces
    the inner engine's (default: overlay2 where the volume takes it, else vfs)."""
    base = base or base_image()
    remove_leftovers()
    timings = {}
    started = time.monotonic()
    build_image(base)
    timings["build"] = time.monotonic() - started
    name = f"lab-test-engine2-{os.getpid()}-{secrets.token_hex(3)}"
    labels = ["--label", LABEL, "--label", f"{OWNER_LABEL}={_owner()}"]
    ssh_dir = Path(tempfile.mkdtemp(prefix="lab-engine2-ssh-"))
    try:
        public_key = _ssh_key(ssh_dir)
        _docker("volume", "create", *labels, name)
        driver_env = ["-e", f"DOCKERD_STORAGE_DRIVER={storage_driver}"] if storage_driver else []
        _docker("run", "-d", "--name", name, *labels, *privilege_options(), *driver_env,
                "-e", f"SSH_AUTHORIZED_KEY={public_key}",
                "-v", f"{name}:/var/lib/docker", IMAGE)
        info = json.loads(_docker("inspect", name).stdout)[0]["NetworkSettings"]
        network = next((net for net in info.get("Networks", {}).values()
                        if net.get("IPAddress")), {})
        address = info.get("IPAddress") or network.get("IPAddress", "")
        client_address = info.get("Gateway") or network.get("Gateway", "")
        if not address:
            raise SecondEngineError(f"the second engine ({name}) has no IP address")
        started = time.monotonic()
        _wait_ready(name, address, ready_timeout)
        timings["ready"] = time.monotonic() - started
        driver = subprocess.run(
            ["docker", "-H", f"tcp://{address}:{PORT}", "info", "--format",
             "{{.Driver}}"], capture_output=True, text=True, timeout=30).stdout.strip()
        engine = SecondEngine(container=name, volume=name, address=address, base_image=base,
                              storage_driver=driver, timings=timings, ssh_dir=ssh_dir,
                              client_address=client_address)
        started = time.monotonic()
        _load(engine, base)
        timings["load"] = time.monotonic() - started
        yield engine
    finally:
        shutil.rmtree(ssh_dir, ignore_errors=True)
        _remove(name)


def _ssh_key(directory: Path) -> str:
    """A fresh key pair in `directory`, a HOME there whose ~/.ssh/config names it, and
    `directory/bin/ssh`, which uses it and that HOME's known_hosts and nothing of the
    user's (`-F /dev/null`); returns the public key."""
    key = directory / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-engine2",
                    "-f", str(key)], check=True, capture_output=True, timeout=30)
    dot_ssh = directory / "home" / ".ssh"
    dot_ssh.mkdir(parents=True, mode=0o700)
    (dot_ssh / "config").write_text(f"Host *\n    IdentityFile {key}\n")
    (directory / "bin").mkdir()
    wrapper = directory / "bin" / "ssh"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'exec /usr/bin/ssh -F /dev/null -i "{key}" -o IdentitiesOnly=yes -o BatchMode=yes '
        f'-o StrictHostKeyChecking=yes -o UserKnownHostsFile="{dot_ssh}/known_hosts" '
        '-o LogLevel=ERROR -o ConnectTimeout=30 "$@"\n')
    wrapper.chmod(0o755)
    return (directory / "key.pub").read_text().strip()


def _host_keys(address: str, deadline: float = 20.0) -> str:
    """The engine's SSH host key, as known_hosts lines (sshd starts beside dockerd:
    asked again until it answers, bounded)."""
    end = time.monotonic() + deadline
    while True:
        keys = subprocess.run(["ssh-keyscan", "-T", "5", "-t", "ed25519", address],
                              capture_output=True, text=True, timeout=30).stdout
        if keys.strip():
            return keys
        if time.monotonic() > end:
            raise SecondEngineError(f"the second engine's sshd at {address} did not answer")
        time.sleep(0.5)   # no readiness event from sshd; bounded by `deadline`


@pytest.fixture(scope="module", name="second_engine")
def second_engine_fixture() -> Iterator[SecondEngine]:
    """The fixture `second_engine`: a second Docker engine for the test module that
    imports this function (see the module's docstring). Named apart from the fixture
    so that tests taking `second_engine` do not shadow the import (ruff F811)."""
    with running_second_engine() as engine:
        yield engine
