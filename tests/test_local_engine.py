"""A local engine asked on its unix socket: an HTTP server on a real socket stands
in for dockerd (no Docker needed), and no `docker` command runs."""

import hashlib
import json
import os
import socket
import threading

import pytest

from lab.config.dockerhost import DEFAULT_SOCKET
from lab.host import local_engine, prepare


@pytest.fixture
def engine(tmp_path):
    """A unix socket answering `GET path` with the status `answers[path]` (404 for
    any other), as dockerd's API does; yields (socket path, answers, paths asked)."""
    path = str(tmp_path / "docker.sock")
    answers: dict[str, bytes] = {}
    asked: list[str] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    request += chunk
                target = request.split(b" ")[1].decode()
                asked.append(target)
                conn.sendall(answers.get(target, b"HTTP/1.1 404 Not Found\r\n\r\n"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, answers, asked
    server.shutdown(socket.SHUT_RDWR)           # wakes accept() (Linux)
    server.close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_status_is_the_engines_answer(engine):
    path, answers, asked = engine
    answers["/_ping"] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    assert local_engine.status(path, "/_ping") == 200
    assert local_engine.status(path, "/images/lab-base/debian:bookworm/json") == 404
    assert asked == ["/_ping", "/images/lab-base/debian%3Abookworm/json"]


def test_status_is_none_where_no_engine_answers(engine, tmp_path):
    path, answers, _ = engine
    assert local_engine.status(str(tmp_path / "absent.sock"), "/_ping") is None
    answers["/_ping"] = b"SSH-2.0-OpenSSH_9.2\r\n"            # not an HTTP server
    assert local_engine.status(path, "/_ping") is None
    answers["/_ping"] = b""                                    # closed at once
    assert local_engine.status(path, "/_ping") is None


@pytest.mark.parametrize("environ, expected", [
    ({"HOME": "/nonexistent"}, DEFAULT_SOCKET),
    ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
    ({"DOCKER_HOST": "unix://"}, DEFAULT_SOCKET),
    ({"DOCKER_HOST": "unix://relative/docker.sock"}, "relative/docker.sock"),
    ({"DOCKER_HOST": "unix:///tmp/a#b.sock"}, "/tmp/a#b.sock"),
    ({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, None),
    ({"DOCKER_HOST": "ssh://me@build-box"}, None),
    ({"HOME": "/nonexistent", "DOCKER_CONTEXT": "gone"}, None),   # unreadable: the CLI says why
])
def test_socket_path_follows_dockers_own_rules(environ, expected):
    assert local_engine.socket_path(environ) == expected


def test_socket_path_of_a_docker_context(tmp_path):
    """Rootless Docker, Docker Desktop, colima: a context whose endpoint is a socket."""
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"rootless").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Endpoints": {"docker": {"Host": "unix:///run/user/1000/docker.sock"}}}))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "rootless"}))
    assert local_engine.socket_path({"DOCKER_CONFIG": str(tmp_path)}) == \
        "/run/user/1000/docker.sock"


def _plugin(directory, executable: bool = True):
    plugin = directory / "docker-compose"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text("#!/bin/sh\n")
    os.chmod(plugin, 0o755 if executable else 0o644)
    return plugin


def test_compose_plugin_found_where_the_cli_looks(tmp_path, monkeypatch):
    """The configuration's extra directories, then its own, then the system's; the
    first file found decides, as for the CLI."""
    monkeypatch.setattr(local_engine, "SYSTEM_PLUGIN_DIRS", (str(tmp_path / "system"),))
    config = tmp_path / "config"
    environ = {"DOCKER_CONFIG": str(config)}
    assert local_engine.compose_plugin(environ) is None
    system = _plugin(tmp_path / "system")
    assert local_engine.compose_plugin(environ) == system
    own = _plugin(config / "cli-plugins")
    assert local_engine.compose_plugin(environ) == own
    (config / "config.json").write_text(json.dumps(
        {"cliPluginsExtraDirs": [str(tmp_path / "extra")]}))
    extra = _plugin(tmp_path / "extra")
    assert local_engine.compose_plugin(environ) == extra


def test_a_plugin_that_cannot_run_leaves_the_question_to_the_cli(tmp_path, monkeypatch):
    """The first `docker-compose` found is not executable: the CLI stops there too (it
    does not try the next directory), so the file check says nothing."""
    monkeypatch.setattr(local_engine, "SYSTEM_PLUGIN_DIRS", (str(tmp_path / "system"),))
    _plugin(tmp_path / "system")
    _plugin(tmp_path / "config" / "cli-plugins", executable=False)
    assert local_engine.compose_plugin({"DOCKER_CONFIG": str(tmp_path / "config")}) is None


@pytest.mark.parametrize("said, ok", [
    ("2.26.1", True), ("v2.5.0", True), ("5.0.0", True), ("1.29.2", False), ("", False)])
def test_compose_versions_the_cli_may_print(monkeypatch, said, ok):
    monkeypatch.setattr(prepare, "_quiet", lambda cmd, timeout=30:
                        prepare.subprocess.CompletedProcess(cmd, 0, said + "\n", ""))
    assert prepare._compose_runs() is ok


def test_a_ready_local_host_runs_no_docker_command(engine, monkeypatch, tmp_path):
    """Engine, Compose and the base image, asked with no `docker` run; whatever the
    socket leaves unclear (no answer, an error status) is asked through the CLI."""
    path, answers, asked = engine
    answers["/_ping"] = b"HTTP/1.1 200 OK\r\n\r\nOK"
    local_image = f"/images/{prepare.LOCAL_BASE_IMAGE.replace(':', '%3A')}/json"
    upstream_image = f"/images/{prepare.UPSTREAM_BASE_IMAGE.replace(':', '%3A')}/json"
    answers[local_image] = b"HTTP/1.1 200 OK\r\n\r\n{}"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "config"))
    _plugin(tmp_path / "config" / "cli-plugins")
    monkeypatch.setattr(prepare.shutil, "which", lambda name: f"/usr/bin/{name}")
    ran = []
    monkeypatch.setattr(prepare, "_quiet", lambda cmd, timeout=30: ran.append(cmd) or
                        prepare.subprocess.CompletedProcess(cmd, 1, "", ""))
    assert prepare._ready_as_is() == prepare.LOCAL_BASE_IMAGE
    assert ran == []
    assert asked == ["/_ping", upstream_image, local_image]
    answers[upstream_image] = b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert prepare._ready_as_is() == prepare.LOCAL_BASE_IMAGE
    assert ran == [["docker", "image", "inspect", prepare.UPSTREAM_BASE_IMAGE]]
    answers["/_ping"] = b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert prepare._ready_as_is() is None
    assert ran[-1] == ["docker", "info", "--format", "{{.ServerVersion}}"]


def test_no_docker_cli_is_not_ready_whatever_the_socket_says(engine, monkeypatch):
    """compose runs under the docker CLI: without it the engine's answer is not enough."""
    path, answers, _ = engine
    answers["/_ping"] = b"HTTP/1.1 200 OK\r\n\r\nOK"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setattr(prepare.shutil, "which", lambda name: None)
    monkeypatch.setattr(prepare, "_quiet", lambda cmd, timeout=30:
                        prepare.subprocess.CompletedProcess(cmd, 127, "", "not found"))
    assert prepare.engine_answers() is False


def test_a_local_engines_lab_runs_compose_as_its_plugin_and_a_remote_ones_through_docker(
        tmp_path, monkeypatch):
    from lab.config.discovery import load_config
    from lab.stack.lifecycle import Stack

    plugin = _plugin(tmp_path / "docker-config" / "cli-plugins")
    monkeypatch.setenv("DOCKER_CONFIG", str(plugin.parent.parent))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path / "state")})
    assert Stack(config, engine=None).compose.compose_command_property[0] == str(plugin)
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.1:2375")
    assert Stack(config, engine=None).compose.compose_command_property[:2] == \
        ["docker", "compose"]
