"""What the integration tests do as a user would: run `lab`, run curl, copy the repo."""

import ipaddress
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_lab(*args, env=None, timeout=60, text=True):
    """`lab ARGS` in a subprocess; `env` is laid over this process's environment."""
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], capture_output=True,
                          text=text, timeout=timeout, env={**os.environ, **(env or {})})


def curl(url, *args, env=None, program="curl", timeout=20) -> tuple[int, bytes]:
    """(status, body) of `curl ARGS URL`; curl itself failing is an error, not a status."""
    cmd = [program, "-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *args, url]
    out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=True,
                         env={**os.environ, **(env or {})}).stdout
    body, _, status = out.rpartition(b"\n")
    return int(status), body


def copy_repo(target):
    """What a lab needs from the repository, copied to `target` (use with LAB_ROOT:
    the lab is then built from the copy's package, `lab/` with `lab/share/`)."""
    shutil.copy(os.path.join(REPO, "lab.toml"), target / "lab.toml")
    shutil.copytree(os.path.join(REPO, "lab"), target / "lab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return target


def remove_private_lab(env) -> None:
    """`lab down` a private project and remove the images it built (the suite leaves
    no images of its private projects behind)."""
    from lab.stack.engine import Engine

    run_lab("down", env=env, timeout=120)
    Engine().remove_project_images(env["LAB_PROJECT"])


def other_host_address(*lab_subnets) -> str:
    """An IPv4 address of this host that is neither loopback nor on a lab network (nor a
    docker bridge's): where clients of this host arrive as themselves."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    for line in out.splitlines():
        address = ipaddress.ip_address(line.split()[3].split("/")[0])
        if not address.is_loopback and not any(address in net for net in lab_subnets) \
                and not line.split()[1].startswith(("br-", "veth", "docker")):
            return str(address)
    raise AssertionError(f"this host has no address besides loopback and the lab's:\n{out}")
