"""`pytest -n` with the plugin: the workers share one lab, started once, and the last
worker out takes it down if they started it (a private project, never the shared lab),
or leaves it up if they found it up."""

import os
import subprocess
import sys

import pytest

from lab.stack.engine import Engine
from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import REPO, remove_private_lab

PROJECT = "lab-xdist-test"
SUBNET = "172.29.58.0/24"

WORKER_TESTS = '''
import urllib.request

import pytest


@pytest.mark.parametrize("n", range(8))
def test_basic_port(lab_endpoints, n):
    proxy = lab_endpoints.proxy["basic"]
    url = f"http://{proxy.username}:{proxy.password}@127.0.0.1:{proxy.port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": url}))
    with opener.open(lab_endpoints.web.proxy_url + "simpleresource", timeout=10) as answer:
        assert answer.status == 200
'''


def _workers(count: int, env: dict[str, str], where) -> subprocess.CompletedProcess:
    (where / "test_workers.py").write_text(WORKER_TESTS)
    return subprocess.run([sys.executable, "-m", "pytest", "-n", str(count), "-q",
                           "-p", "no:cacheprovider", "-o", "addopts=", str(where)],
                          env={**env, "PYTHONPATH": str(REPO)}, cwd=where,
                          capture_output=True, text=True, timeout=540)


@pytest.mark.timeout(300)
def test_two_workers_attach_to_a_lab_found_up_and_leave_it_up(lab_stack, tmp_path):
    """make test's fast stand-in for the test below: the workers find the shared lab up,
    share it, and the last one out leaves it as it found it."""
    before = {name: state.container_id for name, state in lab_stack.states().items()}
    proc = _workers(2, dict(os.environ), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "8 passed" in proc.stdout
    assert lab_stack.is_up()
    assert {name: state.container_id for name, state in lab_stack.states().items()} == before


# make test-full: a private lab and a pytest session of four more workers cost ~45 s of
# make test's two cores; make test has the stand-in above and the lease rules
# (tests/test_leases.py)
@pytest.mark.private_lab
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_workers_share_one_lab(lab_stack, tmp_path):
    env = side_by_side_env(PROJECT, SUBNET)
    try:
        proc = _workers(4, env, tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "8 passed" in proc.stdout
        # the workers started it, so the last one out took it down
        assert Engine().services(PROJECT) == {}
    finally:
        remove_private_lab(env)
    assert lab_stack.is_up(), "the workers' lab touched the shared one"
