"""A second, private lab: up, down, and the errors a user meets. Never touches the
shared lab (its own compose project name, subnet and ports)."""

import json
import socket
import subprocess
import sys

import pytest

from lab.sidebyside import side_by_side_env
from tests.integration.helpers import run_lab

PROJECT = "lab-lifecycle-test"
SUBNET = "172.29.54.0/24"


@pytest.fixture
def private_env():
    env = side_by_side_env(PROJECT, SUBNET)
    yield env
    subprocess.run([sys.executable, "-m", "lab.cli", "down"], env=env, timeout=120,
                   capture_output=True)


def lab(env, *args, timeout=300):
    return run_lab(*args, env=env, timeout=timeout)


def docker_objects(kind: str) -> list[str]:
    label = f"label=com.docker.compose.project={PROJECT}"
    cmd = {"container": ["docker", "ps", "-a", "-q", "--filter", label],
           "network": ["docker", "network", "ls", "-q", "--filter", label],
           "volume": ["docker", "volume", "ls", "-q", "--filter", label]}[kind]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          check=True).stdout.split()


@pytest.mark.timeout(400)
def test_up_then_down_leaves_nothing_of_the_project(lab_stack, private_env):
    proc = lab(private_env, "up")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(lab(private_env, "status", "--json").stdout)
    assert status["project"] == PROJECT
    assert status["proxy"]["noauth"]["port"] == int(private_env["LAB_PORT_PROXY_NOAUTH"])
    assert len(docker_objects("container")) == 4 and docker_objects("network")

    proc = lab(private_env, "down", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert docker_objects("container") == []
    assert docker_objects("network") == []
    assert docker_objects("volume") == []
    assert lab_stack.is_up(), "taking down the private lab touched the shared one"


@pytest.mark.timeout(120)
def test_port_in_use_is_named_with_its_fix(lab_stack, private_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(private_env["LAB_PORT_WEB"])))
        squatter.listen()
        proc = lab(private_env, "up")
    assert proc.returncode == 1
    assert f"port {private_env['LAB_PORT_WEB']}/TCP (web)" in proc.stderr
    assert "LAB_PORT_WEB" in proc.stderr
    assert docker_objects("container") == []


@pytest.mark.timeout(120)
def test_subnet_clash_is_named_with_its_fix(lab_stack, private_env):
    private_env["LAB_SUBNET"] = str(lab_stack.config.subnet)
    proc = lab(private_env, "up")
    assert proc.returncode == 1
    assert "overlaps docker network" in proc.stderr and "LAB_SUBNET" in proc.stderr
    assert docker_objects("container") == [] and docker_objects("network") == []
