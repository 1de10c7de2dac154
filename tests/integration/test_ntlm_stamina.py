"""NTLM as a company proxy serves it, with curl and `lab.proxy`: hundreds of
requests on kept-alive connections and on fresh ones (samuong/alpaca#142 saw 407s after
~100), fifty handshakes at once, all 200, and squid never short of authentication
helpers (it logs "All N ... processes are busy" when a handshake has to queue)."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import pytest_twisted
from twisted.internet import defer

from lab.clients.curl import proxy_args
from tests.integration.helpers import run_lab
from tests.integration.test_proxy_concurrency import client_for

pytestmark = pytest.mark.timeout(180)


def _ntlm(lab_endpoints) -> list[str]:
    return proxy_args(lab_endpoints.proxy["ntlm"], workgroup=lab_endpoints.dc.workgroup)


def _statuses(tool, url, count, *args) -> tuple[list[str], int]:
    """One curl for `count` URLs (curl keeps the connection between them): each
    transfer's status, and how many connections curl opened in all."""
    proc = subprocess.run([tool("curl"), "-sS", "-o", "/dev/null", "--max-time", "60",
                           "-w", "%{stderr}%{http_code} %{num_connects}\n", *args,
                           *([url] * count)], capture_output=True, text=True, timeout=120)
    lines = [line.split() for line in proc.stderr.splitlines() if line[:1].isdigit()]
    return [status for status, _ in lines], sum(int(n) for _, n in lines)


def test_three_hundred_ntlm_requests_on_one_kept_alive_connection(tool, lab_endpoints):
    url = lab_endpoints.web.proxy_url + "simpleresource"
    statuses, connections = _statuses(tool, url, 300, *_ntlm(lab_endpoints))
    assert statuses == ["200"] * 300
    assert connections == 1, "curl should have kept its one connection"


def test_a_hundred_ntlm_requests_each_on_a_fresh_connection(tool, lab_endpoints):
    """A curl each (ten at a time): each opens its connection and runs the whole
    handshake on it (a client asking the proxy to close would end it after the challenge)."""
    url = lab_endpoints.web.proxy_url + "simpleresource"
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: _statuses(tool, url, 1, *_ntlm(lab_endpoints)),
                                range(100)))
    assert [statuses for statuses, _ in results] == [["200"]] * 100
    assert sum(connections for _, connections in results) == 100


def test_fifty_handshakes_at_once_and_no_helper_is_ever_short(tool, lab_endpoints):
    url = lab_endpoints.web.proxy_url + "simpleresource"
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: _statuses(tool, url, 1, *_ntlm(lab_endpoints)),
                                range(50)))
    assert [statuses for statuses, _ in results] == [["200"]] * 50
    log = run_lab("logs", "proxy", timeout=60).stdout
    short = [line for line in log.splitlines() if "processes are busy" in line]
    assert short == [], short[:2]


@pytest_twisted.inlineCallbacks
def test_lab_proxy_ntlm_three_hundred_in_sequence_then_fifty_at_once(lab_endpoints):
    client = client_for(lab_endpoints, "ntlm")
    url = lab_endpoints.web.proxy_url + "simpleresource"
    try:
        for _ in range(300):                      # its pool keeps the connection
            yield client.get_page(url)
        results = yield defer.DeferredList([client.get_page(url) for _ in range(50)],
                                           consumeErrors=True)
        failures = [str(value.value) for ok, value in results if not ok]
        assert failures == [], f"{len(failures)} of 50 failed: {failures[:3]}"
    finally:
        yield client.shutdown()
