"""The second engine (harness/second_engine.py) is a genuine Docker engine:
it runs the base image, builds an image whose RUN reaches the Debian mirror (NAT
through both engines), and a port its container publishes on 0.0.0.0 answers from
this host at the engine's address."""

import json
import socket
import subprocess
import time

import pytest

# The fixture `second_engine`, for the tests of this module.
from harness.second_engine import second_engine_fixture  # noqa: F401

# The first test also waits for the engine: building its image cold takes ~20 s,
# loading the base image a few more.
pytestmark = pytest.mark.timeout(300)

BUSYBOX_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox \\
 && rm -rf /var/lib/apt/lists/*
"""


def _engine_id(*host_args: str) -> str:
    return subprocess.run(["docker", *host_args, "info", "--format", "{{.ID}}"],
                          capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def test_runs_the_base_image(second_engine):
    assert second_engine.docker_host == f"tcp://{second_engine.address}:2375"
    assert _engine_id("-H", second_engine.docker_host) != _engine_id()   # not this one
    second_engine.docker("run", "--rm", second_engine.base_image, "true")
    assert second_engine.storage_driver in ("overlay2", "vfs")


@pytest.fixture(scope="module")
def busybox_image(second_engine, tmp_path_factory):
    """An image built on the second engine whose RUN fetches from the Debian mirror."""
    context = tmp_path_factory.mktemp("busybox")
    (context / "Dockerfile").write_text(BUSYBOX_DOCKERFILE)
    second_engine.docker("build", "-q", "--build-arg", f"BASE_IMAGE={second_engine.base_image}",
                         "-t", "engine2-test/busybox", str(context), timeout=240)
    return "engine2-test/busybox"


@pytest.mark.slow      # make test-full; test_runs_the_base_image stands for it in make test
def test_build_reaches_the_debian_mirror(second_engine, busybox_image):
    out = second_engine.docker("run", "--rm", busybox_image, "busybox", "echo", "built").stdout
    assert out.strip() == "built"


def _http_get(address: str, port: int, deadline: float) -> bytes:
    """GET / from address:port, retrying a refused connection until `deadline`."""
    while True:
        try:
            with socket.create_connection((address, port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: engine2\r\n\r\n")
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                reply = b"".join(chunks)
                if reply:
                    return reply
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on {address}:{port}")
        time.sleep(0.1)


@pytest.mark.slow      # make test-full; test_runs_the_base_image stands for it in make test
def test_published_port_answers_from_this_host(second_engine, busybox_image):
    name = "engine2-test-web"
    second_engine.docker("run", "-d", "--name", name, "-p", "0.0.0.0::8000", busybox_image,
                         "sh", "-c", "mkdir /www && echo hello-from-engine2 > /www/index.html"
                         " && exec busybox httpd -f -p 8000 -h /www")
    try:
        ports = json.loads(second_engine.docker(
            "inspect", "--format", "{{json .NetworkSettings.Ports}}", name).stdout)
        binding = ports["8000/tcp"][0]
        assert binding["HostIp"] == "0.0.0.0"
        reply = _http_get(second_engine.address, int(binding["HostPort"]),
                          time.monotonic() + 20)
        assert reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]
        assert reply.rstrip().endswith(b"hello-from-engine2")
    finally:
        second_engine.docker("rm", "-f", name, check=False)
