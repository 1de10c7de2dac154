"""The `web` container's command line, run as a process: `python3 -m lab.web`.

Waits are on the process's own output (the "serving" line, its exit), each
bounded by a deadline; nothing sleeps.
"""

import json
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest

from harness.processes import start, stop, wait_for_line
from lab.tidy.tls import make_ca, make_issued

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 20.0


def _start(*args: str) -> subprocess.Popen:
    return start("lab.web", "--interface", "127.0.0.1", *args)


@pytest.fixture
def chain_pem(tmp_path):
    """key, leaf, CA in one file (what `lab up` mounts), and the CA alone."""
    ca = make_ca("lab test CA")
    leaf = make_issued(ca, ("localhost",), ("127.0.0.1",))
    (tmp_path / "web-tls.pem").write_bytes(leaf.key_pem + leaf.cert_pem + ca.cert_pem)
    (tmp_path / "web-ca.pem").write_bytes(ca.cert_pem)
    return tmp_path


def test_serves_root_over_http_and_verified_https(chain_pem):
    process = _start("--port", "0", "--https-port", "0",
                     "--tls-pem", str(chain_pem / "web-tls.pem"))
    try:
        words = wait_for_line(process, "serving").split()
        http_url, https_url = words[-3], words[-1]
        with urllib.request.urlopen(http_url, timeout=DEADLINE) as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/html")
        context = ssl.create_default_context(cafile=str(chain_pem / "web-ca.pem"))
        request = urllib.request.Request(https_url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=DEADLINE, context=context) as response:
            assert response.status == 200
            assert json.load(response)["resources"]
    finally:
        stop(process)


def test_taken_port_exits_1_naming_the_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _start("--port", str(port), "--https-port", "0")
        try:
            output = process.communicate(timeout=DEADLINE)[0].decode(errors="replace")
        finally:
            process.kill()
            process.wait(timeout=DEADLINE)
    assert process.returncode == 1, output
    assert "cannot serve" in output and str(port) in output
