"""`lab watch` on the running lab, as a person (or a tool reading --json) runs it: a
curl through the ntlm port shows as its 407 → 200 handshake, with the scheme and
the user, the fault layer's connection opening before squid's line, and the DC's
authentication; Ctrl-C and kill -9 leave nothing running in the lab."""

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.integration.helpers import curl

pytestmark = pytest.mark.timeout(90)

#: the bound on anything the watch is waited for (its start, a line, its end)
BOUND = 20.0


class Lines:
    """A pipe's lines as they come, each read bounded in time (select on the pipe
    itself: a buffered reader would hold lines select cannot see)."""

    def __init__(self, pipe):
        self.fd, self.pending = pipe.fileno(), b""

    def until(self, done, bound=BOUND) -> list[str]:
        """Lines until one satisfies `done`."""
        lines, deadline = [], time.monotonic() + bound
        while not lines or not done(lines[-1]):
            if b"\n" not in self.pending:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([self.fd], [], [], max(left, 0))
                assert ready, f"nothing more within {bound} s; so far: {lines}"
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the stream ended; so far: {lines}"
                self.pending += chunk
                continue
            line, self.pending = self.pending.split(b"\n", 1)
            lines.append(line.decode())
        return lines


def start(*args):
    """`lab watch ARGS`, once it says it is watching: (process, its stdout's Lines)."""
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "watch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                            start_new_session=True)
    said = Lines(proc.stderr).until(lambda text: "watching" in text)
    assert "Ctrl-C to stop" in said[-1], said
    return proc, Lines(proc.stdout)


def ntlm_fetch(tool, lab_endpoints, path):
    ntlm = lab_endpoints.proxy["ntlm"]
    status, _ = curl(lab_endpoints.web.proxy_url + path, "-x", f"http://{ntlm.host}:{ntlm.port}",
                     "--proxy-ntlm", "-U", f"{lab_endpoints.dc.workgroup}\\{ntlm.username}:"
                     f"{ntlm.password}", program=tool("curl"))
    assert status == 200


def followers_left() -> list[str]:
    """The followers' `tail`s still running in the lab's containers (their command lines;
    the `sh` around each names tail too, so only processes that are tail count)."""
    left = []
    for service in ("proxy", "dns"):
        out = subprocess.run(
            ["docker", "exec", f"{os.environ.get('LAB_PROJECT', 'lab')}-{service}-1", "sh",
             "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done "
             "2>/dev/null"], capture_output=True, text=True, timeout=30).stdout
        left += [f"{service}: {text}" for text in out.splitlines()
                 if text.startswith("tail -s 0.1 -c +")]
    return left


def until_none_left(bound=BOUND, keep=()) -> list[str]:
    """The followers left once only `keep` (those from before) are (bounded)."""
    deadline = time.monotonic() + bound
    while (left := followers_left()) != list(keep) and time.monotonic() < deadline:
        time.sleep(0.2)   # polling a condition, bounded: the engine has no event for it
    return left


def test_a_curl_through_the_ntlm_port_shows_its_handshake_with_scheme_and_user(
        tool, lab_endpoints):
    watch, out = start("--port", "ntlm", "--json")
    try:
        path = f"matrix/watch/{uuid.uuid4().hex}"
        ntlm_fetch(tool, lab_endpoints, path)
        lines = out.until(lambda text: path in text and '"status": 200' in text)
    finally:
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=BOUND) == 0, watch.stderr.read()
    events = [json.loads(text) for text in lines]
    assert all(e["port"] == "ntlm" for e in events)                 # the filter held
    mine = [e for e in events if e["source"] == "proxy" and path in e["url"]]
    user = f"{lab_endpoints.dc.workgroup}\\{lab_endpoints.proxy['ntlm'].username}"
    # curl --proxy-ntlm opens with its NTLM type 1: 407 (the challenge), then 200
    assert [(e["status"], e["offered"], e["user"]) for e in mine] == [
        (407, "ntlm", None), (200, "ntlm", user)]
    assert len({e["connection"] for e in mine}) == 1          # one connection throughout
    # the fault layer saw the connection open before squid's first request on it, and
    # named its client
    [opened] = [e for e in events if e["source"] == "faults" and e["event"] == "open"
                and e["upstream"] == mine[0]["connection"]]
    assert opened["time"] <= mine[0]["time"] + 0.001      # squid's time is in whole ms
    assert mine[0]["client"] == opened["client"]
    assert until_none_left() == []


def test_the_readable_lines_and_the_dcs_authentication_for_one_user(tool, lab_endpoints):
    user = lab_endpoints.proxy["ntlm"].username
    watch, out = start("--user", user)
    try:
        path = f"matrix/watch/{uuid.uuid4().hex}"
        ntlm_fetch(tool, lab_endpoints, path)
        lines = out.until(lambda text: path in text and "→ 200" in text)
        if not any("SamLogon" in text for text in lines):  # the DC's line may come after
            lines += out.until(lambda text: "SamLogon" in text)
        dc = [text for text in lines if " dc " in text and "SamLogon" in text]
    finally:
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=BOUND) == 0
    [done] = [text for text in lines if path in text and "→ 200" in text]
    assert " proxy  ntlm      GET http://" in done
    assert done.endswith(f"→ 200 NTLM user {lab_endpoints.dc.workgroup}\\{user}")
    # the DC checked the NTLM answer for the proxy (its winbind, SamLogon), and said ok
    assert f"SamLogon,network: {lab_endpoints.dc.workgroup}\\{user} (NTLMv2) from " \
        f"{lab_endpoints.proxy_lab_address}:" in dc[-1] and dc[-1].endswith(": ok"), dc[-1]
    assert until_none_left() == []


def test_killed_with_sigkill_it_leaves_nothing_running_in_the_lab(lab_endpoints):
    before = followers_left()                       # another watch may be running
    watches = [start()[0] for _ in range(3)]        # three at once, as three terminals
    assert len(followers_left()) == len(before) + 3 * 3   # squid's, dante's, bind's each
    for watch in watches:
        os.killpg(watch.pid, signal.SIGKILL)
        watch.wait(timeout=BOUND)
    assert until_none_left(keep=before) == before


def test_no_lab_is_one_line_naming_the_fix():
    from tests.integration.helpers import run_lab

    proc = run_lab("watch", env={"LAB_PROJECT": "no-such-lab-here"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "lab up" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_twenty_watches_at_once_each_see_the_request_and_end_cleanly(tool, lab_endpoints):
    watches = [start("--port", "ntlm") for _ in range(20)]
    try:
        path = f"matrix/watch/{uuid.uuid4().hex}"
        ntlm_fetch(tool, lab_endpoints, path)
        for _, out in watches:
            out.until(lambda text: path in text and "→ 200 NTLM" in text)
    finally:
        for watch, _ in watches:
            watch.send_signal(signal.SIGINT)
    assert [watch.wait(timeout=BOUND) for watch, _ in watches] == [0] * 20
    assert until_none_left() == []
