"""The lab on another Docker engine (issue 14): `DOCKER_HOST=tcp://...` and
`LAB_BIND=0.0.0.0`, with a genuine second engine reachable over TCP
(harness/second_engine.py). Every endpoint must name that engine's
host, and clients here must work through it, Kerberos included."""

import json
import subprocess

import pytest

from harness.clients import CURL, CURL_ANYAUTH_STUCK, NEEDS_PAC
from harness.second_engine import second_engine_fixture  # noqa: F401
from lab.mockweb import SAMPLE_RESOURCE
from tests.integration.helpers import run_lab

# A whole lab on the second engine: minutes, so make test-full (the second engine itself
# has its fast representative in test_second_engine.py).
pytestmark = [pytest.mark.timeout(1500), pytest.mark.slow]



@pytest.fixture(scope="module")
def remote_lab(second_engine, tmp_path_factory):
    """A lab on the second engine, its state in a directory of its own; down at the end
    (the engine, its images and volumes go with the fixture)."""
    env = {**second_engine.env(), "LAB_BIND": "0.0.0.0", "LAB_PROJECT": "remote",
           "LAB_ALLOW": second_engine.client_address,
           "LAB_STATE_HOME": str(tmp_path_factory.mktemp("remote-state"))}
    up = run_lab("up", env=env, timeout=1200)
    assert up.returncode == 0, up.stderr[-3000:]
    try:
        yield env, second_engine.address
    finally:
        run_lab("down", env=env, timeout=120)


def test_a_remote_engine_with_a_loopback_bind_is_one_line(second_engine):
    proc = run_lab("up", env={**second_engine.env(), "LAB_PROJECT": "remote-refused"})
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "set LAB_BIND=0.0.0.0" in proc.stderr


def test_publishing_beyond_loopback_without_lab_allow_is_one_line(second_engine):
    proc = run_lab("up", env={**second_engine.env(), "LAB_BIND": "0.0.0.0",
                              "LAB_PROJECT": "remote-refused"})
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "set LAB_ALLOW" in proc.stderr


def test_every_endpoint_names_the_engines_host(remote_lab):
    env, address = remote_lab
    doc = json.loads(run_lab("status", "--json", env=env).stdout)
    hosts = {port.get("address", port["host"]) for port in doc["proxy"].values()}
    assert hosts == {address}
    assert doc["dns"]["host"] == doc["dc"]["ldap"]["host"] == doc["faults"]["api"]["host"]
    assert doc["dns"]["host"] == address
    assert doc["web"]["url"] == f"http://{address}:{doc['web']['url'].split(':')[-1]}"
    assert doc["pac"]["url"].startswith(f"http://{address}:")


def test_lab_check_passes_through_the_remote_engine(remote_lab):
    env, _ = remote_lab
    proc = run_lab("check", env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout


def test_curl_reaches_the_remote_proxy_and_its_web_certificate_names_the_host(
        tool, remote_lab):
    env, address = remote_lab
    doc = json.loads(run_lab("status", "--json", env=env).stdout)
    basic = doc["proxy"]["basic"]
    out = subprocess.run(
        [tool("curl"), "-fsS", "--max-time", "10", "-x", f"{address}:{basic['port']}",
         "-U", f"{basic['username']}:{basic['password']}", "http://web/simpleresource"],
        capture_output=True, timeout=30)
    assert (out.returncode, out.stdout) == (0, SAMPLE_RESOURCE), out.stderr
    direct = subprocess.run([tool("curl"), "-fsS", "--max-time", "10", "--cacert",
                             doc["web"]["ca_cert"], doc["web"]["https_url"] + "simpleresource"],
                            capture_output=True, timeout=30)
    assert (direct.returncode, direct.stdout) == (0, SAMPLE_RESOURCE), direct.stderr


def test_the_matrix_passes_through_the_remote_engine_kerberos_included(tool, remote_lab):
    """pac needs a PAC engine (curl has none) and proxy-stall only waits for curl's
    own bound: both are covered against the local lab, as is what --proxy-anyauth
    fails on the company port."""
    env, _ = remote_lab
    curl = [tool("curl"), *CURL[1:]]
    curl[curl.index("--max-time") + 1] = "10"
    proc = run_lab("matrix", "--json", "--skip", ",".join([*NEEDS_PAC, "proxy-stall",
                                                           *CURL_ANYAUTH_STUCK]),
                   "--", *curl, env=env, timeout=300)
    doc = json.loads(proc.stdout)
    failed = {s["name"]: s["reason"] for s in doc["scenarios"] if s["verdict"] == "fail"}
    assert proc.returncode == 0 and failed == {}
    assert {"negotiate", "negotiate-https", "socks5", "bump-trusted"} <= {
        s["name"] for s in doc["scenarios"]}


def test_the_same_lab_over_docker_s_ssh_transport(remote_lab, second_engine):
    """`DOCKER_HOST=ssh://root@host` (what docs/remote-engines.md recommends): the SDK
    and Compose reach the engine through the ssh program, and the lab made over TCP is
    the same lab: `lab up` finds it current, status and check agree."""
    env, address = remote_lab
    over_ssh = second_engine.ssh_env(env)
    up = run_lab("up", env=over_ssh, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    assert "recreating" not in up.stderr and "building" not in up.stderr, up.stderr
    doc = json.loads(run_lab("status", "--json", env=over_ssh).stdout)
    assert doc["dns"]["host"] == address
    check = run_lab("check", env=over_ssh, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
