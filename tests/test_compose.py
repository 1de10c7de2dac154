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
