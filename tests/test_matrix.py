"""lab matrix's verdict rules, placeholder substitution, bounded runs and the credential gate.

The verdict rules are a pure function; runs use real processes (sh, sleep).
"""

import os
import sys
import threading
import time

import pytest

from harness.localhttp import serving
from lab.scenarios.matrix import substitute
from lab.scenarios.processes import CredentialGate, ProcessGroups, Stopped, run_bounded
from lab.scenarios.scenario import Scenario, judge

PROXY = "172.29.53.12"
pytestmark = pytest.mark.timeout(30)


def scenario(expect="ok", direct=False, scheme="http", name="basic"):
    url = f"{scheme}://web.ad.example.com/matrix/r/{name}"
    return Scenario(name, "d", expect, url, url.replace("http:", "https:"), {}, scheme, direct,
                    f"/matrix/r/{name}", "http://127.0.0.1:8080/", PROXY)


def record(client=PROXY, scheme="http", proxy_authorization=False):
    return {"path": "/matrix/r/basic", "client": client, "scheme": scheme,
            "proxy_authorization": proxy_authorization}


VIA_PROXY = [record()]
DIRECT = [record(client="172.29.53.1")]


@pytest.mark.parametrize("expect,exit_code,timed_out,records,passed,got", [
    # ok expected: exit 0 AND the origin saw it arrive the right way
    ("ok", 0, False, VIA_PROXY, True, "ok"),
    ("ok", 0, False, [], False, "exit 0, origin saw nothing"),
    ("ok", 0, False, DIRECT, False, "ok, bypassed the proxy"),
    ("ok", 0, False, [record(), record(client="10.0.0.9")], False, "ok, bypassed the proxy"),
    ("ok", 0, False, [record(proxy_authorization=True)], False, "ok, credentials leaked"),
    ("ok", 22, False, VIA_PROXY, False, "exit 22"),
    ("ok", None, True, VIA_PROXY, False, "timeout"),
    # refusal expected: non-zero within the bound, nothing at the origin
    ("proxy-auth", 22, False, [], True, "exit 22"),
    ("unreachable", 7, False, [], True, "exit 7"),
    ("tls-untrusted", -6, False, [], True, "exit -6"),
    ("forbidden", 0, False, [], False, "exit 0"),
    ("forbidden", 0, False, VIA_PROXY, False, "exit 0"),
    ("proxy-auth", 1, False, VIA_PROXY, False, "exit 1"),
    ("proxy-auth", None, True, [], False, "timeout"),
    ("timeout", None, True, [], False, "timeout"),     # our bound is not the client's timeout
    ("timeout", 28, False, [], True, "exit 28"),
])
def test_verdict_rules(expect, exit_code, timed_out, records, passed, got):
    verdict = judge(scenario(expect), exit_code, timed_out, records)
    assert (verdict.passed, verdict.got) == (passed, got), verdict.reason
    assert verdict.reason


def test_no_proxy_must_arrive_directly():
    assert judge(scenario(direct=True), 0, False, DIRECT).passed
    verdict = judge(scenario(direct=True), 0, False, VIA_PROXY)
    assert not verdict.passed and "through the proxy" in verdict.reason


def test_https_scenario_needs_an_https_request_at_the_origin():
    https = scenario(scheme="https", name="basic-https")
    assert judge(https, 0, False, [record(scheme="https")]).passed
    verdict = judge(https, 0, False, [record(scheme="http")])
    assert not verdict.passed and verdict.got == "ok, no https"


def test_a_refusal_must_come_within_its_bound():
    import dataclasses

    bounded = dataclasses.replace(scenario("proxy-auth", name="account-locked"), within=5)
    assert judge(bounded, 22, False, [], seconds=4.9).passed
    verdict = judge(bounded, 22, False, [], seconds=5.2)
    assert not verdict.passed and "later than 5 s" in verdict.reason


def test_a_refusals_time_is_what_it_took_beyond_the_quickest_other_run():
    import dataclasses

    from lab.scenarios.matrix import Outcome, prompt
    from lab.scenarios.processes import Completed

    def outcome(name, seconds, within=None):
        s = dataclasses.replace(scenario("proxy-auth", name=name), within=within)
        return Outcome(s, ("c",), Completed(22, False, seconds), (),
                       judge(s, 22, False, [], seconds=seconds))

    # a loaded machine: every run of this client takes 6 s or more to start and ask
    done = {"basic-wrong-password": outcome("basic-wrong-password", 6.0),
            "account-locked": outcome("account-locked", 9.5, within=5)}
    assert not done["account-locked"].verdict.passed                   # on its whole time
    assert prompt(done, "account-locked").verdict.passed                # 3.5 s beyond
    done["account-locked"] = outcome("account-locked", 12.0, within=5)
    assert not prompt(done, "account-locked").verdict.passed            # 6 s beyond
    alone = {"account-locked": outcome("account-locked", 5.5, within=5)}
    assert not prompt(alone, "account-locked").verdict.passed           # its whole time
    assert prompt(done, "basic-wrong-password") is done["basic-wrong-password"]


@pytest.mark.parametrize("attempts,passed", [(0, True), (3, True), (4, False), (5, False)])
def test_lockout_budget_fails_a_client_over_its_wrong_passwords(attempts, passed):
    import dataclasses

    budget = dataclasses.replace(scenario("proxy-auth", name="lockout-budget"), budget=3)
    verdict = judge(budget, 22, False, [], attempts=attempts)
    assert verdict.passed == passed, verdict.reason
    assert (f"{attempts} wrong password" in verdict.reason) if passed else (
        f"counted {attempts} wrong passwords" in verdict.reason and "locks" in verdict.reason)
    assert not judge(budget, 0, False, VIA_PROXY, attempts=0).passed    # and it must fail


def test_substitute_replaces_only_the_placeholders():
    s = scenario()
    argv = substitute(["curl", "-w", "%{http_code} {x}", "{url}", "--x={https_url}",
                       "{scenario}.log"], s)
    assert argv == ["curl", "-w", "%{http_code} {x}", s.url, f"--x={s.https_url}",
                    "basic.log"]


def _dead(pid: int, timeout: float = 5.0) -> bool:
    """Dead within `timeout` (a SIGKILL lands a moment after it is sent): waits on the
    kernel's exit event for `pid` (a pidfd), not on a clock."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)

def test_a_run_past_the_bound_is_killed_with_its_whole_process_group(tmp_path):
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    run = run_bounded(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], os.environ, 1.0)
    assert run.timed_out and run.exit_code is None
    assert 1.0 <= run.seconds < 5 and time.monotonic() - started < 5
    assert _dead(int(pidfile.read_text()))


def test_what_a_client_leaves_running_is_killed_when_it_exits(tmp_path):
    # the background sleep keeps stdout open: the run must not wait for it
    run = run_bounded(["sh", "-c", "sleep 60 & echo $!; exit 3"], os.environ, 20)
    assert (run.exit_code, run.timed_out) == (3, False) and run.seconds < 5
    assert _dead(int(run.stdout.decode().strip()))


def test_output_is_captured_and_bounded():
    run = run_bounded(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo oops >&2"],
                      os.environ, 20)
    assert run.exit_code == 0 and run.stderr == b"oops\n"
    assert 0 < len(run.stdout) <= 64 * 1024 and set(run.stdout) == {ord("a")}


def test_a_missing_program_raises_before_anything_runs():
    with pytest.raises(FileNotFoundError):
        run_bounded(["/nonexistent/client"], os.environ, 5)


def _enter(gate, credential, inside, leave):
    def body():
        with gate.hold(credential):
            inside.set()
            leave.wait(10)
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def test_gate_lets_the_same_password_overlap_and_makes_another_wait():
    gate = CredentialGate()
    events = [(threading.Event(), threading.Event()) for _ in range(4)]
    first = _enter(gate, ("basic:alice", "right"), *events[0])
    assert events[0][0].wait(5)
    second = _enter(gate, ("basic:alice", "right"), *events[1])
    assert events[1][0].wait(5)                       # same password: overlaps
    other_user = _enter(gate, ("basic:bob", "x"), *events[2])
    assert events[2][0].wait(5)                       # another user: overlaps
    wrong = _enter(gate, ("basic:alice", "wrong"), *events[3])
    assert not events[3][0].wait(0.3)                 # must wait for both "right" holders
    events[0][1].set()
    first.join(5)
    assert not events[3][0].wait(0.3)
    events[1][1].set()
    second.join(5)
    assert events[3][0].wait(5)                       # now it runs
    for _, leave in events:
        leave.set()
    for thread in (other_user, wrong):
        thread.join(5)
    assert not any(t.is_alive() for t in (first, second, other_user, wrong))


def test_gate_ignores_runs_without_credentials():
    gate = CredentialGate()
    with gate.hold(None), gate.hold(None):
        pass


def test_stop_kills_every_running_client_and_starts_no_other():
    """What Ctrl-C does to a matrix: clients live in their own sessions, so the
    terminal's SIGINT never reaches them; stop() must."""
    groups = ProcessGroups()
    proc = groups.start(["sleep", "60"], os.environ)
    groups.stop()
    assert proc.wait(timeout=5) == -9
    with pytest.raises(Stopped):
        groups.start(["true"], os.environ)
    groups.end(proc)
    proc.stdout.close()
    proc.stderr.close()


# -- the exclusive phase: scenarios that pause a lab service run alone, afterwards ------


@pytest.fixture
def origin():
    """A stand-in for the web service's evidence endpoint: it saw nothing."""
    import http.server
    import json

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"requests": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield url


@pytest.fixture
def lab(tmp_path, origin, monkeypatch):
    import dataclasses

    from lab.config.discovery import load_config
    from lab.endpoints import build_endpoints
    from lab.scenarios import jvm
    from tests.test_endpoints import PORTS

    monkeypatch.setattr(jvm.shutil, "which", lambda name: None)     # a stand-in CA file
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path / "state")})
    config.state_dir.mkdir(parents=True)
    (config.state_dir / "web-ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    endpoints = build_endpoints(config, PORTS)
    return dataclasses.replace(endpoints, web=dataclasses.replace(endpoints.web, url=origin))


def test_a_scenario_that_pauses_the_dc_runs_after_those_that_need_it(lab, tmp_path):
    """dc-down runs once every scenario that involves the DC is done, inside the pause;
    one that never involves the DC (the htpasswd `basic` port) runs beside it."""
    import contextlib

    from lab.scenarios.matrix import run_matrix

    log = tmp_path / "log"
    paused: list[str] = []

    @contextlib.contextmanager
    def pause(service):
        with log.open("a") as out:
            out.write(f"pause {service}\n")
        paused.append(service)
        yield
        with log.open("a") as out:
            out.write(f"healed {service}\n")

    # each run logs its scenario and whether the DC was paused when it ran; all refuse
    command = ["sh", "-c", f'echo "$LAB_SCENARIO" >> {log}; exit 22']
    names = ["basic-wrong-password", "dc-down", "group-denied"]
    result = run_matrix(lab, command, names, timeout=10, pause=pause)
    lines = log.read_text().splitlines()
    assert lines[:2] == ["group-denied", "pause dc"]             # what needs the DC first
    assert sorted(lines[2:4]) == ["basic-wrong-password", "dc-down"]  # then, DC paused
    assert lines[4:] == ["healed dc"]
    assert paused == ["dc"]
    assert [o.scenario.name for o in result.outcomes] == names         # catalogue order
    assert all(o.verdict.passed for o in result.outcomes), [o.verdict for o in
                                                              result.outcomes]


def test_refusals_judged_on_their_time_run_after_the_others_together(lab, tmp_path):
    """Forty clients starting at once would count against a bound of 5 s: the timed
    ones (`within`) run once the others are done, beside each other only."""
    from lab.scenarios.matrix import run_matrix

    log = tmp_path / "log"
    command = ["sh", "-c", f'echo "start $LAB_SCENARIO" >> {log}; sleep 0.2; '
               f'echo "end $LAB_SCENARIO" >> {log}; exit 22']
    names = ["basic-wrong-password", "account-disabled", "group-denied", "password-expired"]
    result = run_matrix(lab, command, names, timeout=10)
    lines = log.read_text().splitlines()
    first, then = lines[:4], lines[4:]
    assert sorted(first) == ["end basic-wrong-password", "end group-denied",
                             "start basic-wrong-password", "start group-denied"]
    assert sorted(then) == ["end account-disabled", "end password-expired",
                            "start account-disabled", "start password-expired"]
    assert then[:2] == ["start account-disabled", "start password-expired"] or \
        then[:2] == ["start password-expired", "start account-disabled"]   # together
    assert [o.scenario.name for o in result.outcomes] == names          # catalogue order
    assert all(o.verdict.passed for o in result.outcomes)


def test_without_a_way_to_pause_the_exclusive_scenarios_are_refused(lab):
    from lab.errors import LabError
    from lab.scenarios.matrix import run_matrix

    with pytest.raises(LabError, match="dc-down"):
        run_matrix(lab, ["true"], ["basic", "dc-down"], timeout=5)


def test_nothing_is_paused_when_no_exclusive_scenario_is_chosen(lab):
    from lab.scenarios.matrix import run_matrix

    def pause(service):
        raise AssertionError(f"paused {service}")

    result = run_matrix(lab, ["sh", "-c", "exit 22"], ["basic-wrong-password"], timeout=5,
                        pause=pause)
    assert result.passed == 1


def test_no_report_shows_a_credential_in_any_form(lab, tmp_path):
    """Reports become CI artifacts: every password of the configuration, plain,
    percent-encoded and as base64 `user:password` (a Basic header, as `curl -v`
    prints it), the wrong ones too, is masked in every format."""
    import base64
    import urllib.parse

    from lab.config.discovery import load_config
    from lab.masking import MASK, Masker
    from lab.scenarios import reports
    from lab.scenarios.matrix import run_matrix

    config = load_config(environ={})
    pairs = [("Administrator", config.admin_password),
             *((user.name, user.password) for user in config.users)]
    # the client prints its environment, the Basic header for each proxy URL's
    # credential (as `curl -v` does), the admin password, and fails: its output lands
    # in every report
    client = (
        "import base64, os, sys, urllib.parse\n"
        "print(*(f'{k}={v}' for k, v in os.environ.items()), sep='\\n')\n"
        "for k in ('http_proxy', 'HTTPS_PROXY', 'ALL_PROXY'):\n"
        "    url = urllib.parse.urlsplit(os.environ.get(k, ''))\n"
        "    if url.password:\n"
        "        unquote = urllib.parse.unquote\n"
        "        pair = f'{unquote(url.username)}:{unquote(url.password)}'\n"
        "        print('> Proxy-Authorization: Basic', base64.b64encode(pair.encode()).decode())\n"
        f"print('admin {config.admin_password}', file=sys.stderr)\n"
        "sys.exit(3)\n")
    names = ["basic", "basic-wrong-password", "ldap", "group-denied", "socks5",
             "socks5-wrong-password"]
    secrets = Masker.of(pairs)
    result = run_matrix(lab, [sys.executable, "-c", client], names, timeout=10,
                        secrets=secrets)
    assert any(b"Proxy-Authorization: Basic ***" in o.run.stdout for o in result.outcomes)
    written = "\n".join([reports.table(result), reports.json_text(result),
                         reports.junit(result), reports.html_report(result)])
    assert MASK in written
    wrong = [(user, password + "-wrong") for user, password in pairs]
    for user, password in pairs + wrong:
        for form in (password, urllib.parse.quote(password, safe=""),
                     base64.b64encode(f"{user}:{password}".encode()).decode()):
            assert form not in written, (user, form)


def test_masker_hides_every_form_and_any_authorization_token():
    from lab.masking import Masker

    masker = Masker.of([("alice", "Rabbit-Hole-2024"), ("bob", None), ("x", "ab")])
    assert masker.text("> Proxy-Authorization: NTLM TlRMTVNTUAADAAAAGAAYAEAAAA==\n"
                       "< HTTP/1.1 200 OK") == "> Proxy-Authorization: NTLM ***\n< HTTP/1.1 200 OK"
    assert masker.text("http://alice:Rabbit-Hole-2024@proxy:3129 and Rabbit%2BHole") == \
        "http://alice:***@proxy:3129 and Rabbit%2BHole"
    assert masker.text("YWxpY2U6UmFiYml0LUhvbGUtMjAyNA==") == "***"
    assert masker.bytes(b"\xff Rabbit-Hole-2024-wrong") == b"\xff ***-wrong"
    assert masker.text("ab is too short to be a secret") == "ab is too short to be a secret"
    # however it was percent-encoded, and any URL's password, known or not
    assert masker.text("http://alice:Rabbit%2dHole%2D2024@p") == "http://alice:***@p"
    assert masker.text("Rabbit%2dHole%2D2024 alone") == "*** alone"
    assert masker.text("socks5h://eve:unknown-pw@proxy:1080") == "socks5h://eve:***@proxy:1080"
    # a header map's entry, as JSON, Python and Node print one
    for printed in ('{"proxy-authorization": ["NTLM TlRMTVNTUAAD"]}',
                    "{b'Proxy-Authorization': b'Negotiate YIIGhgYJKoZIhvcS'}",
                    "{ 'proxy-authorization': 'Basic YWxpY2U6eA==' }"):
        masked = masker.text(printed)
        assert "TlRMTVNTUAAD" not in masked and "YIIGhgYJ" not in masked, masked
        assert "YWxpY2U6eA" not in masked and "***" in masked, masked


def test_fault_scenarios_on_the_open_port_run_from_start_to_end_beside_every_phase(
        lab, tmp_path):
    """proxy-stall waits rather than works, and needs no DC: it starts with the first
    runs and is still running while the DC is paused (its client here waits, on a FIFO,
    for the pause to end)."""
    import contextlib
    import os
    import threading

    from lab.scenarios.matrix import run_matrix

    log, fifo = tmp_path / "log", tmp_path / "healed"
    os.mkfifo(fifo)

    @contextlib.contextmanager
    def pause(service):
        with log.open("a") as out:
            out.write(f"pause {service}\n")
        yield
        # the FIFO opens for writing once proxy-stall's client has it open for reading
        writing = threading.Thread(target=lambda: fifo.write_text("healed\n"), daemon=True)
        writing.start()
        writing.join(timeout=10)
        if writing.is_alive():                   # never opened: unblock, and fail
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            raise AssertionError("proxy-stall's client never read the FIFO")

    command = ["sh", "-c", f'echo "start $LAB_SCENARIO" >> {log}; '
               f'if [ "$LAB_SCENARIO" = proxy-stall ]; then read line < {fifo}; fi; '
               f'echo "end $LAB_SCENARIO" >> {log}; exit 22']
    result = run_matrix(lab, command, ["proxy-stall", "dc-down", "group-denied"],
                        timeout=10, pause=pause)
    lines = log.read_text().splitlines()
    # proxy-stall's client read the FIFO the pause wrote once over: it was running then
    # (run after the pause it would wait in vain; run before it, likewise), and the runs
    # that need the DC were done before the pause
    assert lines.index("pause dc") < lines.index("end proxy-stall")
    assert lines.index("end group-denied") < lines.index("pause dc")
    [stall] = [o for o in result.outcomes if o.scenario.name == "proxy-stall"]
    assert not stall.run.timed_out


def test_the_logs_are_read_while_the_open_ports_fault_scenarios_run_and_again_if_they_grew(
        lab, tmp_path):
    """The open port's fault runs (a stall: seconds) outlast the others: every log is read
    while they run, and read again after them only if it has grown meanwhile. Here
    proxy-stall's client waits, on a FIFO, for the three logs to be read, then adds to
    bind's."""
    import os
    import threading

    from lab.scenarios.evidence import Witnesses
    from lab.scenarios.matrix import run_matrix

    log, fifo, bind_log = tmp_path / "log", tmp_path / "read", tmp_path / "bind"
    os.mkfifo(fifo)
    bind_log.write_text("")
    reads, lock = [], threading.Lock()

    class Part:
        def __init__(self, name, grows=None):
            self.name, self.grows = name, grows

        def mark(self):
            return self.grows.stat().st_size if self.grows else 0

        def since(self, mark):
            with lock:
                with log.open("a") as out:
                    out.write(f"read {self.name}\n")
                reads.append(self.name)
                if len(reads) == 3:      # all three read: the stall's client goes on
                    threading.Thread(target=lambda: fifo.write_text("read\n"),
                                     daemon=True).start()
            return ""

    witnesses = Witnesses(squid=Part("squid"), dante=Part("dante"), bind=Part("bind", bind_log))
    command = ["sh", "-c", f'if [ "$LAB_SCENARIO" = proxy-stall ]; then read line < {fifo}; '
               f'echo question >> {bind_log}; echo "end $LAB_SCENARIO" >> {log}; fi; exit 22']
    try:
        run_matrix(lab, command, ["proxy-stall", "group-denied"], timeout=10,
                   witnesses=witnesses)
    finally:           # a writer still waiting for a reader (the client gone): let it end
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    lines = log.read_text().splitlines()
    assert sorted(lines[:3]) == ["read bind", "read dante", "read squid"], lines
    assert lines[3:] == ["end proxy-stall", "read bind"], lines


def test_which_scenarios_involve_the_dc():
    from lab.scenarios.catalogue import needs_dc

    assert [n for n in ("noauth", "basic-wrong-password", "bump-trusted", "socks5",
                        "proxy-down", "no-proxy") if needs_dc(n)] == []
    assert all(needs_dc(n) for n in ("ldap", "group-denied", "negotiate", "ntlm-https",
                                     "corp-basic-only", "account-locked", "pac-failover",
                                     "dc-down"))
