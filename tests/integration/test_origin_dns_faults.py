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


@pytest.mark.parametrize("name", ["timeout", "x.timeout", "a.b.timeout"])
@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_timeout_name_gets_no_answer(tool, lab_endpoints, name, transport):
    # bind drops these queries (a response policy, DROP): dig's own bound ends them,
    # "no servers could be reached" is dig's exit 9
    dns = lab_endpoints.dns
    done = subprocess.run([tool("dig"), transport, "+time=2", "+tries=1", "-p", str(dns.port),
                           f"@{dns.host}", f"{name}.{lab_endpoints.dc.domain}", "A"],
                          capture_output=True, text=True, timeout=15)
    assert done.returncode == 9, done.stdout
    assert "timed out" in done.stdout and "status:" not in done.stdout


@pytest.mark.parametrize("tcp", [False, True])
def test_timeout_name_is_a_dnspython_timeout(lab_endpoints, tcp):
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [lab_endpoints.dns.host]
    resolver.port = lab_endpoints.dns.port
    domain = lab_endpoints.dc.domain
    with pytest.raises(dns.resolver.LifetimeTimeout) as caught:
        resolver.resolve(f"x.timeout.{domain}", "A", tcp=tcp, lifetime=2)
    assert isinstance(caught.value, dns.exception.Timeout)
    # the same resolver, the same server: every other name answers at once
    assert resolver.resolve(f"web.{domain}", "A", tcp=tcp, lifetime=5).rrset


def test_absent_name_is_nxdomain_and_main_zone_still_loads(tool, lab_endpoints):
    domain = lab_endpoints.dc.domain
    assert "status: NXDOMAIN" in dig(tool, lab_endpoints, f"nothere.{domain}").stdout
    assert "status: NOERROR" in dig(tool, lab_endpoints, f"web.{domain}").stdout


def test_the_lab_dns_is_still_no_resolver(tool, lab_endpoints):
    # the timeout fault needs no recursion: a name outside the lab is refused, at once
    out = dig(tool, lab_endpoints, "example.org").stdout
    assert "status: REFUSED" in out and "flags: qr rd;" in out     # no `ra`
