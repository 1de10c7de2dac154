"""The fault layer in front of the real lab, seen by real clients (curl, Toxiproxy's own
Python client), and the `lab_faults` fixture's promise: healed at teardown, always."""

import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.clients.curl import proxy_args
from tests.integration.helpers import REPO, run_lab

#: Every test here adds faults to the shared lab's ports or pauses its services.
pytestmark = pytest.mark.exclusive

MAX_TIME = "4"


def timed_curl(url, *args, max_time=MAX_TIME):
    """(curl's exit code, seconds) of a GET; the body is discarded."""
    started = time.monotonic()
    proc = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", str(max_time),
                           *args, url], capture_output=True, timeout=60)
    return proc.returncode, time.monotonic() - started


@pytest.fixture
def url(lab_endpoints):
    return lab_endpoints.web.proxy_url + "simpleresource"


def test_fault_free_it_is_invisible(lab_faults, lab_endpoints, url):
    for port in ("noauth", "basic", "ldap", "group"):
        assert timed_curl(url, "-f", *proxy_args(lab_endpoints.proxy[port]))[0] == 0
    assert all(p["toxics"] == [] for p in lab_faults.proxies().values())


def test_latency_adds_at_least_its_value(lab_faults, lab_endpoints, url):
    lab_faults.add_toxic("proxy_basic", "latency", {"latency": 1000})
    code, seconds = timed_curl(url, "-f", *proxy_args(lab_endpoints.proxy["basic"]))
    assert code == 0 and seconds >= 1.0


def inside(lab_stack, port_name: str) -> list[str]:
    """curl's proxy argument for the fault layer's own address on the lab network: what
    a client inside the lab meets. Through the published port, docker's userland proxy
    stands between, and turns a reset into a plain close (curl 52) and a port that is
    down into accept-then-close (curl 52 again)."""
    from lab.config.topology import PORTS_BY_NAME

    address = lab_stack.config.address("faults")
    return ["-x", f"http://{address}:{PORTS_BY_NAME[port_name].container_port}"]


def test_reset_peer_is_curl_56(lab_faults, lab_stack, lab_endpoints, url):
    lab_faults.add_toxic("proxy_noauth", "reset_peer", {"timeout": 0}, stream="upstream")
    assert timed_curl(url, *inside(lab_stack, "proxy_noauth"))[0] == 56
    assert timed_curl(url, *proxy_args(lab_endpoints.proxy["noauth"]))[0] == 52


def test_limit_data_truncates(lab_faults, lab_endpoints):
    lab_faults.add_toxic("web", "limit_data", {"bytes": 1000})
    code, _ = timed_curl(lab_endpoints.web.url + "large?bytes=100000")
    assert code == 18                    # "transfer closed with outstanding read data"


def test_timeout_zero_stalls_until_the_clients_own_bound(lab_faults, lab_endpoints, url):
    lab_faults.add_toxic("proxy_noauth", "timeout", {"timeout": 0})
    code, seconds = timed_curl(url, *proxy_args(lab_endpoints.proxy["noauth"]))
    assert code == 28 and seconds >= float(MAX_TIME)


def test_a_port_down_refuses_connections(lab_faults, lab_stack, lab_endpoints, url):
    lab_faults.disable("proxy_noauth")
    assert timed_curl(url, *inside(lab_stack, "proxy_noauth"))[0] == 7
    assert timed_curl(url, *proxy_args(lab_endpoints.proxy["noauth"]))[0] in (52, 56)


def test_toxiproxy_python_drives_the_lab_unchanged(lab_faults, lab_endpoints, url):
    import toxiproxy
    from toxiproxy.api import APIConsumer

    api = lab_endpoints.faults_api
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer(api.host, api.port)
    try:
        assert server.running()
        proxy = server.get_proxy("proxy_noauth")
        proxy.add_toxic(type="latency", attributes={"latency": 500})
        code, seconds = timed_curl(url, *proxy_args(lab_endpoints.proxy["noauth"]))
        assert code == 0 and seconds >= 0.5
        assert server.reset()
    finally:
        APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474


def test_dc_paused_ldap_refuses_within_seconds(lab_faults, lab_stack, lab_endpoints, url):
    """A proxy whose DC is frozen answers within seconds: 407 on ldap and group
    (squid's LDAP check gives up after 2 s), not a hang."""
    lab_faults.pause("dc")

    def ask(port):
        # a password squid has never seen: it must ask the DC (a cached one would pass)
        password = f"Never-Cached-{uuid.uuid4().hex[:8]}"
        proxy = lab_endpoints.proxy[port]
        return timed_curl(url, "-f", *proxy_args(proxy, user="bob", password=password),
                          max_time=30)

    ports = ("ldap", "group")
    with ThreadPoolExecutor(len(ports)) as pool:          # both ports at once
        answers = dict(zip(ports, pool.map(ask, ports), strict=True))
    for port, (code, seconds) in answers.items():
        assert code == 22 and seconds < 12, (port, code, seconds)     # 407, not a hang


FAILING_TEST = '''
def test_breaks_the_lab_then_fails(lab_faults):
    lab_faults.add_toxic("proxy_noauth", "timeout", {"timeout": 0})
    lab_faults.pause("web")
    assert False, "fails on purpose"
'''


@pytest.mark.timeout(300)
def test_faults_are_healed_even_when_the_test_fails(lab_stack, lab_endpoints, url, tmp_path):
    (tmp_path / "test_failing.py").write_text(FAILING_TEST)
    # the same lab as this session's (LAB_PROJECT, LAB_ROOT, ports...), never another
    lab_env = {k: v for k, v in os.environ.items() if k.startswith("LAB_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-o", "addopts=", str(tmp_path)], cwd=tmp_path, timeout=240,
                          capture_output=True, text=True,
                          env={**lab_env, "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert "1 failed" in proc.stdout, proc.stdout[-2000:]
    assert timed_curl(url, "-f", *proxy_args(lab_endpoints.proxy["noauth"]))[0] == 0
    listing = run_lab("fault", "list").stdout
    assert "timeout" not in listing and "DOWN" not in listing
    assert lab_stack.is_up()


def test_lab_fault_cli_round_trip(lab_endpoints, url):
    added = run_lab("fault", "add", "basic", "latency", "latency=700")
    assert added.returncode == 0, added.stderr
    try:
        assert "latency_downstream" in run_lab("fault", "list").stdout
        code, seconds = timed_curl(url, "-f", *proxy_args(lab_endpoints.proxy["basic"]))
        assert code == 0 and seconds >= 0.7
    finally:
        cleared = run_lab("fault", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "latency" not in run_lab("fault", "list").stdout


@pytest.mark.parametrize("argv,needle", [
    (["fault", "add", "basic", "latency", "latncy=5"], "no attribute 'latncy'"),
    (["fault", "add", "basic", "lag"], "unknown toxic 'lag'"),
    (["fault", "add", "nosuchport", "latency"], "no fault proxy for port"),
    (["fault", "pause", "mailserver"], "no service 'mailserver'"),
])
def test_lab_fault_bad_input_is_one_line(lab_endpoints, argv, needle):
    proc = run_lab(*argv)
    assert proc.returncode in (1, 2) and needle in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_lab_fetch_and_run_go_on_under_a_paused_dc(lab_faults, url):
    """A fault put there on purpose is what `lab fetch` and `lab run` are for: the DC
    paused, the htpasswd port still answers, and the CLI says so instead of refusing
    an unhealthy lab."""
    lab_faults.pause("dc")
    fetched = run_lab("fetch", url, "--via", "basic")
    assert fetched.returncode == 0, fetched.stderr
    ran = run_lab("run", "basic", "--", "curl", "-fsS", "-o", "/dev/null", "{url}", timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_lab_check_under_a_paused_dc_says_so_at_once(lab_faults):
    """`lab check` proves a lab by its own requests; a service paused (a fault left on)
    is said in one line, not found out through each request's timeout."""
    lab_faults.pause("dc")
    proc = run_lab("check", timeout=60)
    assert proc.returncode == 1
    assert "is not healthy (dc)" in proc.stderr and "Traceback" not in proc.stderr
    assert "FAIL" not in proc.stdout            # said before any request was made
