"""Issue 13's origin faults through the lab's noauth squid, and its DNS faults
against the lab's bind, with real curl and dig.

What is pinned is what was measured (README, "Origin faults and DNS faults"):
squid turns an origin reset mid-body into a clean close of its client
connection (curl 18, not 56), and a malformed chunk into an aborted chunked
answer (curl 18); a stall stays a stall (curl 28 at --max-time). Every curl has
--max-time and every dig +time=2 +tries=1, so every wait is bounded.
"""

import subprocess

import pytest


def through_squid(tool, endpoints, path: str, max_time: float = 5.0):
    """(curl exit code, status, body, stderr) of `path` on the web service,
    fetched through the noauth port by its lab name."""
    proxy = endpoints.proxy["noauth"]
    url = f"http://web.{endpoints.dc.domain}/{path}"
    done = subprocess.run([tool("curl"), "-sS", "--max-time", str(max_time), "-x",
                           f"http://{proxy.host}:{proxy.port}", "-o", "-", "-w",
                           "\n%{http_code}", url], capture_output=True, timeout=max_time + 10)
    body, _, status = done.stdout.rpartition(b"\n")
    return done.returncode, int(status), body, done.stderr.decode(errors="replace")


@pytest.mark.parametrize("path,code,status", [
    ("reset?after=100", 18, 200),       # squid closes its side: a short read, not a reset
    ("truncate", 18, 200),
    ("bad-chunking", 18, 200),          # squid already sent 200, then aborts the body
    ("slow-headers?seconds=1", 0, 200),  # squid waits for the head (read_timeout 15 min)
])
def test_what_squid_makes_of_an_origin_fault(tool, lab_endpoints, path, code, status):
    got = through_squid(tool, lab_endpoints, path)
    assert got[:2] == (code, status), got[3]


def test_reset_body_reaches_the_client_before_the_close(tool, lab_endpoints):
    code, _, body, err = through_squid(tool, lab_endpoints, "reset?after=100")
    assert code == 18 and body == b"x" * 100, err


def test_stall_through_squid_is_a_client_timeout(tool, lab_endpoints):
    code, status, body, err = through_squid(tool, lab_endpoints, "stall", max_time=2)
    assert (code, status, body) == (28, 200, b""), err


def dig(tool, endpoints, name: str) -> subprocess.CompletedProcess:
    dns = endpoints.dns
    return subprocess.run([tool("dig"), "+time=2", "+tries=1", "-p", str(dns.port),
                           f"@{dns.host}", name, "A"], capture_output=True, text=True,
                          timeout=15)


@pytest.mark.parametrize("name", ["servfail", "www.servfail"])
def test_servfail_zone_answers_servfail(tool, lab_endpoints, name):
    out = dig(tool, lab_endpoints, f"{name}.{lab_endpoints.dc.domain}").stdout
    assert "status: SERVFAIL" in out


def test_timeout_name_is_a_referral_to_a_dead_server(tool, lab_endpoints):
    # bind has recursion off, so it answers at once with the delegation; only a
    # resolver that follows it (to .250 of the lab network) waits in vain.
    domain = lab_endpoints.dc.domain
    out = dig(tool, lab_endpoints, f"x.timeout.{domain}").stdout
    assert "status: NOERROR" in out and "ANSWER: 0" in out
    assert f"timeout.{domain}.\t300\tIN\tNS\tns.timeout.{domain}." in out


def test_absent_name_is_nxdomain_and_main_zone_still_loads(tool, lab_endpoints):
    domain = lab_endpoints.dc.domain
    assert "status: NXDOMAIN" in dig(tool, lab_endpoints, f"nothere.{domain}").stdout
    assert "status: NOERROR" in dig(tool, lab_endpoints, f"web.{domain}").stdout
