"""The compose plumbing on testcontainers' DockerCompose: project name, env, errors."""

import pytest

from lab.errors import StackError
from lab.stack.compose import LabCompose


def test_command_names_the_project(tmp_path):
    compose = LabCompose(context=str(tmp_path), compose_file_name="docker-compose.yml",
                         project="p1", env={})
    assert compose.compose_command_property[-2:] == ["-p", "p1"]
    assert "-f" in compose.compose_command_property


def test_failure_is_a_stack_error_with_the_tail(tmp_path):
    compose = LabCompose(context=str(tmp_path), project="p1", env={"PATH": "/usr/bin:/bin"},
                         docker_command_path="sh")
    compose.compose_command_property[:] = ["sh", "-c", "echo one; echo two >&2; exit 3", "x"]
    with pytest.raises(StackError, match=r"failed \(exit 3\): two$"):
        compose.run()


def test_missing_docker_names_the_fix(tmp_path):
    compose = LabCompose(context=str(tmp_path), project="p1", env={"PATH": "/nonexistent"},
                         docker_command_path="/nonexistent/docker")
    with pytest.raises(StackError, match="docker is not installed"):
        compose.run("ps")


def _shell(tmp_path, script):
    compose = LabCompose(context=str(tmp_path), project="p1", env={"PATH": "/usr/bin:/bin"},
                         docker_command_path="sh")
    compose.compose_command_property[:] = ["sh", "-c", script, "x"]
    return compose


def test_images_build_with_progress_and_a_failure_says_why(tmp_path):
    ticks = []
    _shell(tmp_path, "sleep 2.3").build_images(["a", "b"], meanwhile=lambda: ticks.append(1),
                                                timeout=30)
    assert len(ticks) in (2, 3)              # about every second while compose runs
    with pytest.raises(StackError, match=r"(?s)build failed \(exit 4\): step 1.*no such package$"):
        _shell(tmp_path, "echo step 1; echo no such package; exit 4").build_images(
            ["a"], meanwhile=lambda: None, timeout=30)


def test_an_interrupted_build_stops_compose(tmp_path):
    marker = tmp_path / "still-running"
    compose = _shell(tmp_path, f"sleep 1.5; touch {marker}; sleep 30")

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compose.build_images(["a"], meanwhile=interrupt, timeout=30)
    # compose's whole session was stopped at the interrupt (1 s in): nothing ran on
    assert not marker.exists()


def test_compose_runs_as_the_plugin_file_when_given_one(tmp_path):
    compose = LabCompose(context=str(tmp_path), compose_file_name="docker-compose.yml",
                         project="p1", env={}, plugin="/opt/plugins/docker-compose")
    command = compose.compose_command_property
    assert command[0] == "/opt/plugins/docker-compose" and command[1] == "-f"
    assert "compose" not in command and command[-2:] == ["-p", "p1"]

