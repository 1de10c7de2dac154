"""The origin faults of `lab.web.resources` (issue 13), met by real curl against an
in-process `MockWebServer` on 127.0.0.1.

curl runs as a child of the reactor (`getProcessOutputAndValue`), so the server
keeps serving while curl waits; every curl has `--max-time`, so every wait is
bounded. The exit codes pinned here are what curl really says (measured):
56 "Connection reset by peer" for /reset, 18 "transfer closed with N bytes
remaining" for /truncate, 28 at --max-time for /stall, 56 "Illegal or missing
hexadecimal sequence in chunked-encoding" for /bad-chunking.
"""

from __future__ import annotations

import shutil
import time

import pytest
import pytest_twisted
from twisted.internet import defer, utils

from lab.mockweb import MockWebServer
from lab.web.faults import MAX_RESET_AFTER, ORIGIN_FAULTS, TRUNCATE_BODY
from lab.web.resources import INDEX

CURL = shutil.which("curl") or "curl"      # `make test` installs it


@pytest.fixture
def web():
    server = MockWebServer("127.0.0.1")
    pytest_twisted.blockon(server.listening())
    yield server
    pytest_twisted.blockon(server.stop())


@defer.inlineCallbacks
def curl(url: str, *args: str, max_time: float = 5.0):
    """(exit code, status, body bytes, stderr, seconds) of one real curl."""
    start = time.monotonic()
    out, err, code = yield utils.getProcessOutputAndValue(
        CURL, ("-sS", "--max-time", str(max_time), "-o", "-", "-w", "\n%{http_code}",
               *args, url), env={})
    body, _, status = out.rpartition(b"\n")
    return code, int(status), body, err.decode(errors="replace"), time.monotonic() - start


def test_index_lists_every_origin_fault():
    assert {p.lstrip("/") for p, _ in INDEX} >= set(ORIGIN_FAULTS)


@pytest.mark.parametrize("after", [0, 100, MAX_RESET_AFTER])
@pytest_twisted.inlineCallbacks
def test_reset_after_bytes_is_a_connection_reset(web, after):
    code, status, body, err, _ = yield curl(f"{web.get_url()}reset?after={after}")
    assert (code, status) == (56, 200), err
    assert "reset by peer" in err
    assert body == b"x" * after                     # every byte sent before the RST arrived


@pytest_twisted.inlineCallbacks
def test_reset_after_beyond_its_bound_is_a_400_naming_it(web):
    code, status, body, err, _ = yield curl(f"{web.get_url()}reset?after=999999999")
    assert (code, status) == (0, 400), err
    wanted = f"after must be an integer from 0 to {MAX_RESET_AFTER}, got '999999999'\n"
    assert body == wanted.encode()


@pytest_twisted.inlineCallbacks
def test_truncate_is_a_short_read(web):
    code, status, body, err, _ = yield curl(web.get_url() + "truncate")
    assert (code, status) == (18, 200), err
    assert body == TRUNCATE_BODY
    assert "1000 bytes remaining" in err


@pytest_twisted.inlineCallbacks
def test_stall_times_out_at_max_time_and_leaves_no_timer(web):
    from twisted.internet import reactor

    code, status, body, err, seconds = yield curl(web.get_url() + "stall", max_time=1)
    assert (code, status, body) == (28, 200, b""), err
    assert 0.9 < seconds < 4
    yield web.stop()                    # fires once curl's connection is gone
    assert not [c for c in reactor.getDelayedCalls()
                if c.active() and c.getTime() - reactor.seconds() > 60]


@pytest_twisted.inlineCallbacks
def test_stall_ends_by_itself_after_seconds(web):
    code, status, _, err, seconds = yield curl(web.get_url() + "stall?seconds=0.5")
    assert (code, status) == (18, 200), err         # closed with the promised body unsent
    assert 0.4 < seconds < 4


@pytest_twisted.inlineCallbacks
def test_slow_headers_arrive_after_their_seconds(web):
    code, status, body, err, seconds = yield curl(web.get_url() + "slow-headers?seconds=1.2",
                                                  "-D", "-")
    assert (code, status) == (0, 200), err
    assert 1.1 < seconds < 4
    assert body.count(b"X-Lab-Slow-Header:") == 3
    assert body.endswith(b"slow headers done\n")


@pytest_twisted.inlineCallbacks
def test_slow_headers_trip_a_timeout_before_the_head_is_complete(web):
    code, status, _, err, _ = yield curl(web.get_url() + "slow-headers?seconds=5", max_time=1)
    assert (code, status) == (28, 200), err     # curl has the status line, not the head
    assert "0 bytes received" in err


@pytest_twisted.inlineCallbacks
def test_bad_chunking_is_a_receive_error(web):
    code, status, body, err, _ = yield curl(web.get_url() + "bad-chunking")
    assert (code, status) == (56, 200), err
    assert "chunked-encoding" in err
    assert b"not a chunk" not in body
