"""Two projects on one machine, each with its own lab.toml and no project name in it:
each gets a lab of its own (derived compose project names), side by side, each
found from its own directory; both taken down and their images removed at the end."""

import json
import os
import subprocess
import sys

import pytest

from lab.config.discovery import derive_project
from lab.config.topology import PORTS
from lab.stack.engine import Engine
from lab.testing.ports import free_port

pytestmark = pytest.mark.private_lab

#: Two halves of this suite's private /24 (a lab needs a /27 or larger).
SUBNETS = {"alpha": "172.29.73.0/25", "beta": "172.29.73.128/25"}


def _lab(directory, env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "lab.cli", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _project_file(subnet: str, taken: set[int]) -> str:
    lines = [f'[network]\nsubnet = "{subnet}"\n\n[ports]']
    for port in PORTS:
        number = free_port()
        while number in taken:
            number = free_port()
        taken.add(number)
        lines.append(f"{port.name} = {number}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def projects(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LAB_PORT_", "LAB_PROJECT", "LAB_SUBNET", "LAB_CONFIG",
                                "LAB_ROOT"))}
    env["LAB_STATE_HOME"] = str(tmp_path / "state")
    taken: set[int] = set()
    directories = {}
    for name, subnet in SUBNETS.items():
        directory = tmp_path / name / "client"        # the same directory name in both
        directory.mkdir(parents=True)
        (directory / "lab.toml").write_text(_project_file(subnet, taken))
        directories[name] = directory
    yield directories, env
    engine = Engine()
    for directory in directories.values():
        _lab(directory, env, "down", timeout=120)
        engine.remove_project_images(derive_project(directory))


# make test-full: two more labs at once cost ~75 s of the suite's two cores; make test
# has a private lab beside the shared one (test_lifecycle) and the names' derivation
# (tests/test_discovery.py)
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_projects_get_two_labs_side_by_side(projects):
    directories, env = projects
    names = {name: derive_project(d) for name, d in directories.items()}
    assert len(set(names.values())) == 2 and "lab" not in names.values()
    ups = [subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], cwd=directory, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
           for directory in directories.values()]          # from two terminals at once
    for up in ups:
        _, err = up.communicate(timeout=600)
        assert up.returncode == 0, err[-3000:]
    ports = {}
    for name, directory in directories.items():
        proc = _lab(directory, env, "status", "--json")
        assert proc.returncode == 0, proc.stderr
        ports[name] = json.loads(proc.stdout)["proxy"]["basic"]["port"]
        toml = (directory / "lab.toml").read_text()
        assert f"proxy_basic = {ports[name]}\n" in toml  # its own file's port
        check = _lab(directory, env, "check")
        assert check.returncode == 0, check.stdout + check.stderr
    assert ports["alpha"] != ports["beta"]
    running = subprocess.run(["docker", "ps", "--format",
                              '{{.Label "com.docker.compose.project"}}'],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    assert {names["alpha"], names["beta"]} <= set(running.split())
    proc = _lab(directories["alpha"], env, "down")
    assert proc.returncode == 0
    assert _lab(directories["beta"], env, "check").returncode == 0     # beta untouched
