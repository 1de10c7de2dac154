"""squid's authentication helpers after a burst, on the real lab: once squid has seen no
request for a while, the helpers the burst started are retired (`squid -k rotate`, by the
proxy's entrypoint) and NTLM still works; a handshake half-way through a rotation ends
with 200 (squid lets a helper reserved for a handshake finish it).

Exclusive: the retiring waits for a few seconds without a request through squid, which
the parallel tier never leaves it."""

import base64
import http.client
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import spnego

from lab.clients.curl import proxy_args
from lab.stack.follow import follow_output

pytestmark = [pytest.mark.exclusive, pytest.mark.timeout(90)]

#: the bound on each wait below (the proxy's quiet poll is 3 s)
BOUND = 20.0
BURST = 8


def _in_proxy(lab_stack, *argv: str) -> str:
    ran = lab_stack.engine.run_in(lab_stack.states()["proxy"], list(argv))
    assert ran is not None and ran[0] == 0, f"{argv} in the proxy: {ran}"
    return ran[1]


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {BOUND} s"
        time.sleep(0.1)   # polling a condition, bounded: squid's rotation has no event


def _ntlm_auths(lab_stack) -> int:
    comms = _in_proxy(lab_stack, "sh", "-c", "cat /proc/[0-9]*/comm 2>/dev/null; true")
    return comms.split().count("ntlm_auth")


def _curl_ntlm(tool, lab_endpoints) -> str:
    proc = subprocess.run([tool("curl"), "-sS", "-o", "/dev/null", "--max-time", "20",
                           "-w", "%{http_code}",
                           *proxy_args(lab_endpoints.proxy["ntlm"],
                                       workgroup=lab_endpoints.dc.workgroup),
                           lab_endpoints.web.proxy_url + "simpleresource"],
                          capture_output=True, text=True, timeout=30)
    return proc.stdout


class Handshake:
    """An NTLM handshake on a connection of its own to the ntlm port, a step at a time:
    between the challenge and the answer, squid keeps a helper reserved for it."""

    def __init__(self, lab_endpoints):
        proxy = lab_endpoints.proxy["ntlm"]
        self.url = lab_endpoints.web.proxy_url + "simpleresource"
        self.context = spnego.client(f"{lab_endpoints.dc.workgroup}\\{proxy.username}",
                                     proxy.password, protocol="ntlm")
        self.connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=BOUND)

    def _ask(self, token: bytes) -> http.client.HTTPResponse:
        self.connection.request("GET", self.url, headers={
            "Proxy-Authorization": "NTLM " + base64.b64encode(token).decode()})
        response = self.connection.getresponse()
        response.read()
        return response

    def challenged(self) -> "Handshake":
        self.challenge = self._ask(self.context.step()).getheader("Proxy-Authenticate", "")
        assert self.challenge.startswith("NTLM "), self.challenge
        return self

    def answer(self) -> int:
        try:
            token = base64.b64decode(self.challenge.split(" ", 1)[1])
            return self._ask(self.context.step(token)).status
        finally:
            self.connection.close()


def test_a_bursts_helpers_are_retired_once_squid_is_quiet(tool, lab_endpoints, lab_stack):
    said = follow_output(lab_stack, "proxy")         # what the proxy says from now on
    try:
        # every handshake challenged before any answers: each holds a helper of its own
        with ThreadPoolExecutor(BURST) as pool:
            handshakes = list(pool.map(lambda _: Handshake(lab_endpoints).challenged(),
                                       range(BURST)))
            after_burst = _ntlm_auths(lab_stack)
            assert list(pool.map(Handshake.answer, handshakes)) == [200] * BURST
        assert after_burst >= BURST
        retired = said.first(lambda line: "helpers retired" in line, BOUND)
    finally:
        said.close()
    assert retired is not None, f"the proxy retired no helpers within {BOUND} s"
    counts = re.search(r"(\d+) authentication helpers retired, (\d+) running", retired)
    assert counts, retired
    assert int(counts[1]) >= BURST > int(counts[2]), retired
    # squid started two again (startup=2), and one more if a health check took one of
    # the two it keeps idle (idle=2) meanwhile
    assert _ntlm_auths(lab_stack) <= 3
    assert _curl_ntlm(tool, lab_endpoints) == "200"


def test_a_handshake_half_way_through_a_rotation_ends_with_200(lab_endpoints, lab_stack):
    """The challenge comes from a helper squid reserves for this connection; the rotation
    retires the helpers, and the answer must still reach that one (killed instead, squid
    loses the handshake: the connection closes without an answer)."""
    handshake = Handshake(lab_endpoints).challenged()
    rotations = "grep -c storeDirWriteCleanLogs /var/log/squid/cache.log; true"
    before = int(_in_proxy(lab_stack, "sh", "-c", rotations))
    _in_proxy(lab_stack, "squid", "-k", "rotate", "-f", "/etc/squid/squid.conf")
    _until(lambda: int(_in_proxy(lab_stack, "sh", "-c", rotations)) > before,
           "squid's rotation")
    assert handshake.answer() == 200
