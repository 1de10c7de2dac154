"""`pytest -n 4` with the plugin: the workers share one lab, started once, and the
last worker out takes it down (a private project, never the shared lab)."""

import subprocess
import sys

import pytest

from lab.stack.engine import Engine
from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import REPO, remove_private_lab

# make test-full: a private lab and a pytest session of four more workers cost ~45 s of
# make test's two cores. make test keeps the lease rules (tests/test_leases.py) and its
# own four xdist workers attaching to one shared lab through the same plugin.
pytestmark = [pytest.mark.private_lab, pytest.mark.slow]

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


@pytest.mark.timeout(600)
def test_four_workers_share_one_lab(lab_stack, tmp_path):
    env = side_by_side_env(PROJECT, SUBNET)
    (tmp_path / "test_workers.py").write_text(WORKER_TESTS)
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "4", "-q",
                               "-p", "no:cacheprovider", "-o", "addopts=", str(tmp_path)],
                              env={**env, "PYTHONPATH": str(REPO)}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=540)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "8 passed" in proc.stdout
        # the workers started it, so the last one out took it down
        assert Engine().services(PROJECT) == {}
    finally:
        remove_private_lab(env)
    assert lab_stack.is_up(), "the workers' lab touched the shared one"
