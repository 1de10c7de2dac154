"""A second, private lab: up, down, and the errors a user meets. Never touches the
shared lab (its own compose project name, subnet and ports), and never asks it for
anything either: this file runs beside the exclusive phase (a paused DC, faults)."""

import json
import socket
import subprocess
import sys

import pytest

from lab.config.topology import SERVICE_NAMES
from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import remove_private_lab, run_lab

pytestmark = pytest.mark.private_lab

PROJECT = "lab-lifecycle-test"
SUBNET = "172.29.54.0/24"


def shared_containers(project: str) -> set[str]:
    """The project's containers by name (the exclusive phase beside may restart or even
    recreate one: that keeps its name; taking the lab down does not)."""
    return set(subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter",
                               f"label=com.docker.compose.project={project}"],
                              capture_output=True, text=True, timeout=30,
                              check=True).stdout.split())


@pytest.fixture(scope="module")
def shared(request, lab_config):
    """The shared lab's configuration and its containers as found: neither brought up
    nor healed unless it is not up at all (then nothing exclusive can be using it)."""
    containers = shared_containers(lab_config.project)
    if not containers:
        request.getfixturevalue("lab_stack")
        containers = shared_containers(lab_config.project)
    return lab_config, containers


def untouched(shared) -> bool:
    config, containers = shared
    return shared_containers(config.project) == containers


@pytest.fixture(scope="module")
def private_images():
    """The private project's images are removed once its tests are done."""
    yield
    remove_private_lab(side_by_side_env(PROJECT, SUBNET))


@pytest.fixture(scope="module")
def private_env_of_module(private_images):
    return side_by_side_env(PROJECT, SUBNET)


# Each test states what it starts from: the private lab down, or up. The file's order
# lets one test's lab be the next one's start (a lab start costs ~20 s on 2 cores
# under the suite), while any test still runs alone: `lab up` of a running lab is a
# no-op, and `lab down` of an absent one is quick.
def _after(command: str, env_of_module: dict[str, str]) -> dict[str, str]:
    env = dict(env_of_module)               # a test may change its copy
    proc = run_lab(command, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return env


@pytest.fixture
def lab_down(private_env_of_module):
    return _after("down", private_env_of_module)


@pytest.fixture
def lab_up(private_env_of_module):
    return _after("up", private_env_of_module)


def lab(env, *args, timeout=300):
    return run_lab(*args, env=env, timeout=timeout)


def docker_objects(kind: str) -> list[str]:
    label = f"label=com.docker.compose.project={PROJECT}"
    cmd = {"container": ["docker", "ps", "-a", "-q", "--filter", label],
           "network": ["docker", "network", "ls", "-q", "--filter", label],
           "volume": ["docker", "volume", "ls", "-q", "--filter", label]}[kind]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          check=True).stdout.split()


@pytest.mark.timeout(120)
def test_port_in_use_is_named_with_its_fix(lab_down):
    env = lab_down
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["LAB_PORT_WEB"])))
        squatter.listen()
        proc = lab(env, "up")
    assert proc.returncode == 1
    assert f"port {env['LAB_PORT_WEB']}/TCP (web)" in proc.stderr
    assert "LAB_PORT_WEB" in proc.stderr
    assert docker_objects("container") == []


@pytest.mark.timeout(120)
def test_subnet_clash_is_named_with_its_fix(shared, lab_down):
    env = lab_down
    env["LAB_SUBNET"] = str(shared[0].subnet)
    proc = lab(env, "up")
    assert proc.returncode == 1
    assert "overlaps docker network" in proc.stderr and "LAB_SUBNET" in proc.stderr
    assert docker_objects("container") == [] and docker_objects("network") == []


@pytest.mark.timeout(400)
def test_sigterm_of_up_cleans_up_like_ctrl_c(lab_down):
    env = lab_down
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "starting containers" in line:
            proc.terminate()
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, seen + [rest]
    proc.stderr.close()
    assert "removing the lab's containers" in rest and "interrupted" in rest
    assert docker_objects("container") == [] and docker_objects("network") == []


@pytest.mark.timeout(400)
def test_two_ups_at_once_one_brings_it_up_the_other_attaches(lab_down):
    env = lab_down
    """Bug: two `lab up` for one project tore down each other's containers."""
    procs = [subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert [code for code, _ in results] == [0, 0], results
    assert sum("already up" in err for _, err in results) == 1, results
    assert sum("starting containers" in err for _, err in results) == 1, results
    assert len(docker_objects("container")) == len(SERVICE_NAMES)


@pytest.mark.timeout(400)
def test_docker_restart_of_every_service_then_up_attaches_without_recreating(lab_up):
    """`docker restart` (by hand, or the engine's own restart) keeps each container's
    files and volumes: every service must come back by itself, with no recreation
    (a proxy restarted by hand was once seen to stay exited)."""
    env = lab_up
    before = sorted(docker_objects("container"))
    subprocess.run(["docker", "restart", "--time", "3", *before], check=True,
                   capture_output=True, timeout=120)
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    assert "recreating" not in proc.stderr, proc.stderr
    assert sorted(docker_objects("container")) == before, "a service had to be recreated"
    check = lab(env, "check")
    assert check.returncode == 0, check.stdout + check.stderr


def _starts_again_as_it_was(env, containers: list[str]) -> None:
    """`lab up` starts the same containers again, not recreated, into a working lab."""
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    assert "starting them again as they are" in proc.stderr, proc.stderr
    assert "recreating" not in proc.stderr and "not back as it was" not in proc.stderr, \
        proc.stderr
    assert sorted(docker_objects("container")) == containers, "a service was recreated"
    check = lab(env, "check")
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.timeout(400)
def test_a_lab_stopped_whole_as_the_engines_restart_leaves_it_starts_again_as_it_is(lab_up):
    """The engine's restart stops every container (`restart: "no"`): `lab up` starts
    the same five again (no recreation: as after `docker restart`) into a working lab;
    one that then exits alone (a crash) is recreated, with what starts from it; all
    killed at once (power lost) start again as they are too."""
    env = lab_up
    containers = sorted(docker_objects("container"))
    subprocess.run(["docker", "stop", "--time", "3", *containers], check=True,
                   capture_output=True, timeout=120)
    _starts_again_as_it_was(env, containers)
    dc = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project="
                         f"{PROJECT}", "--filter", "label=com.docker.compose.service=dc"],
                        capture_output=True, text=True, timeout=30, check=True).stdout.split()
    subprocess.run(["docker", "kill", *dc], check=True, capture_output=True, timeout=60)
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    assert "recreating dc (not healthy), proxy (starts from dc)" in proc.stderr, proc.stderr
    assert "starting them again as they are" not in proc.stderr, proc.stderr
    containers = sorted(docker_objects("container"))
    subprocess.run(["docker", "kill", *containers], check=True, capture_output=True, timeout=60)
    _starts_again_as_it_was(env, containers)


@pytest.mark.timeout(400)
def test_status_then_down_leaves_nothing_of_the_project(shared, lab_up):
    env = lab_up
    status = json.loads(lab(env, "status", "--json").stdout)
    assert status["project"] == PROJECT
    assert status["proxy"]["noauth"]["port"] == int(env["LAB_PORT_PROXY_NOAUTH"])
    assert len(docker_objects("container")) == len(SERVICE_NAMES) and docker_objects("network")

    proc = lab(env, "down", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert docker_objects("container") == []
    assert docker_objects("network") == []
    assert docker_objects("volume") == []
    assert untouched(shared), "taking down the private lab touched the shared one"


@pytest.mark.timeout(400)
def test_sigkill_of_up_mid_start_then_up_recovers(lab_down):
    env = lab_down
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:                    # an event, not a sleep: it is starting
        if "starting containers" in line:
            break
    proc.kill()
    proc.wait(timeout=30)
    proc.stderr.close()
    again = lab(env, "up")
    assert again.returncode == 0, again.stderr
    assert json.loads(lab(env, "status", "--json").stdout)["project"] == PROJECT


@pytest.mark.timeout(400)
def test_down_all_takes_down_a_project_and_its_images(shared, lab_up):
    from lab.stack.engine import Engine
    from lab.stack.prune import down_all

    engine = Engine()
    said = []
    projects = down_all(engine, said.append, keep_images={shared[0].project},
                        select=lambda name: name == PROJECT)
    assert projects == [PROJECT]
    assert docker_objects("container") == [] and docker_objects("network") == []
    assert docker_objects("volume") == [] and engine.project_images(PROJECT) == []
    assert untouched(shared), "down --all of one project touched the shared one"
