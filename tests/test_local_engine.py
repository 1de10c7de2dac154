"""A local engine asked on its unix socket: an HTTP server on a real socket stands
in for dockerd (no Docker needed), and no `docker` command runs."""

import os
import socket
import threading

import pytest

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
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(timeout=5)


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
    ({"HOME": "/nonexistent"}, local_engine.DEFAULT_SOCKET),
    ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
    ({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, None),
    ({"DOCKER_HOST": "ssh://me@build-box"}, None),
    ({"HOME": "/nonexistent", "DOCKER_CONTEXT": "gone"}, None),   # unreadable: the CLI says why
])
def test_socket_path_follows_dockers_own_rules(environ, expected):
    assert local_engine.socket_path(environ) == expected


def test_compose_plugin_found_where_the_cli_looks(tmp_path, monkeypatch):
    monkeypatch.setattr(local_engine, "SYSTEM_PLUGIN_DIRS", (str(tmp_path / "system"),))
    environ = {"DOCKER_CONFIG": str(tmp_path / "config")}
    assert local_engine.compose_plugin(environ) is None
    plugin = tmp_path / "system" / "docker-compose"
    plugin.parent.mkdir()
    plugin.write_text("#!/bin/sh\n")
    assert local_engine.compose_plugin(environ) is None           # not executable
    os.chmod(plugin, 0o755)
    assert local_engine.compose_plugin(environ) == plugin
    own = tmp_path / "config" / "cli-plugins" / "docker-compose"
    own.parent.mkdir(parents=True)
    own.write_text("#!/bin/sh\n")
    os.chmod(own, 0o755)
    assert local_engine.compose_plugin(environ) == own            # the user's own first


def test_a_ready_local_host_runs_no_docker_command(engine, monkeypatch):
    """Engine, Compose and the base image, asked with no `docker` run; when the engine
    does not answer on its socket, the CLI is asked as before."""
    path, answers, asked = engine
    answers["/_ping"] = b"HTTP/1.1 200 OK\r\n\r\nOK"
    answers[f"/images/{prepare.LOCAL_BASE_IMAGE.replace(':', '%3A')}/json"] = \
        b"HTTP/1.1 200 OK\r\n\r\n{}"
    monkeypatch.setattr(local_engine, "socket_path", lambda: path)
    monkeypatch.setattr(local_engine, "compose_plugin", lambda: "/usr/libexec/docker-compose")
    monkeypatch.setattr(prepare.shutil, "which", lambda name: f"/usr/bin/{name}")
    ran = []
    monkeypatch.setattr(prepare, "_quiet", lambda cmd, timeout=30: ran.append(cmd) or
                        prepare.subprocess.CompletedProcess(cmd, 1, "", ""))
    assert prepare._ready_as_is() == prepare.LOCAL_BASE_IMAGE
    assert ran == []
    assert asked[0] == "/_ping" and len(asked) == 3    # ping, then the registry's, then ours
    answers["/_ping"] = b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    assert prepare._ready_as_is() is None
    assert ran == [["docker", "info", "--format", "{{.ServerVersion}}"]]
