"""Accounts as AD has them (disabled, password expired, locked out) on the company port,
and the lockout budget, with real clients: curl (Basic and NTLM), kinit, ldapwhoami,
and `lab matrix` judging a client that retries a wrong password."""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.clients.directory import directory_of
from lab.config.users import LOCKOUT_THRESHOLD
from lab.files import lock_exclusively
from lab.mockweb import SAMPLE_RESOURCE
from lab.scenarios.lockout import LOCK_FILE, LockoutWatch
from tests.integration.helpers import curl, run_lab

pytestmark = pytest.mark.timeout(120)
REFUSED = {"disabled": "account-disabled", "password-expired": "password-expired",
           "locked": "account-locked"}


@pytest.fixture
def directory(lab_endpoints, lab_config):
    return directory_of(lab_endpoints, lab_config.admin_password)


@contextlib.contextmanager
def holding_judy(lab_endpoints):
    """The lockout-budget user held as a run holds her (`LockoutWatch`), to ask the DC
    about her between runs: another worker's matrix may run lockout-budget meanwhile, and
    its wrong passwords count, and may lock her, until it ends."""
    held = lock_exclusively(Path(lab_endpoints.web.ca_cert).parent / LOCK_FILE, 120)
    assert held is not None, "another lockout-budget run held judy for 120 s"
    try:
        yield
    finally:
        os.close(held)


def matrix(*args, timeout=90):
    proc = run_lab("matrix", "--json", *args, timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_lab_locks_the_locked_account_and_every_client_is_refused_promptly(
        tool, lab_endpoints, directory):
    """The matrix locks ivan before sending his right password; then Basic, NTLM and a
    Kerberos logon are each refused, within 5 s."""
    corp = lab_endpoints.proxy["corp"]
    code, doc = matrix("--only", ",".join(REFUSED.values()), "--", tool("curl"), "-fsS",
                       "--max-time", "10", "-o", "/dev/null", "{url}")
    assert code == 0, doc
    assert directory.locked(corp.accounts["locked"]["username"])
    url = lab_endpoints.web.proxy_url + "simpleresource"
    for state, account in corp.accounts.items():
        if state == "lockout-budget":
            continue
        user, password = account["username"], account["password"]
        for args in (["-U", f"{user}:{password}"],
                     ["--proxy-ntlm", "-U", f"{lab_endpoints.dc.workgroup}\\{user}:{password}"]):
            started = time.monotonic()
            status, _ = curl(url, "-x", f"http://{corp.host}:{corp.port}", *args,
                             program=tool("curl"))
            assert (status, state) == (407, state) and time.monotonic() - started < 5


def test_kerberos_refuses_each_account_for_its_own_reason(tool, lab_endpoints, tmp_path):
    from lab.clients.ad import kinit
    from lab.errors import KerberosError

    corp, dc = lab_endpoints.proxy["corp"], lab_endpoints.dc
    run_lab("matrix", "--only", "account-locked", "--", tool("true"))     # lock ivan
    reasons = {"disabled": "revoked", "password-expired": "expired", "locked": "revoked"}
    for state, reason in reasons.items():
        account = corp.accounts[state]
        with pytest.raises(KerberosError, match=reason):
            kinit(account["username"], account["password"], dc.realm, dc.kerberos.host,
                  dc.kerberos.port, directory=tmp_path / state)


def test_the_lockout_policy_holds_only_its_group(tool, lab_endpoints, lab_config, directory):
    """The suite sends wrong passwords for the ordinary users all the time: the domain's
    own policy never locks them; the same wrong passwords lock a member of lab-lockout
    (held as a lockout-budget run holds its user, and unlocked after)."""
    def wrong_passwords(user):
        for _ in range(LOCKOUT_THRESHOLD + 1):
            subprocess.run([tool("ldapwhoami"), "-x", "-H", directory.url, "-D",
                            f"{user}@{lab_endpoints.dc.domain}", "-w", "Not-Their-Password-1"],
                           capture_output=True, timeout=15)

    frank = lab_config.roles.wrong_password.name
    wrong_passwords(frank)
    assert not directory.locked(frank)
    judy = lab_config.roles.lockout_budget.name
    lock_file = Path(lab_endpoints.web.ca_cert).parent / LOCK_FILE
    with LockoutWatch(directory, judy, lock_file).watching():
        wrong_passwords(judy)
        assert directory.locked(judy)
    with holding_judy(lab_endpoints):
        assert not directory.locked(judy)


def test_lockout_budget_catches_a_retry_loop_and_passes_curl_once(tool, lab_endpoints,
                                                                  directory):
    loop = ("for i in 1 2 3 4 5 6; do curl -fsS -o /dev/null --max-time 5 \"$1\" && exit 0; "
            "done; exit 22")
    code, doc = matrix("--only", "lockout-budget", "--", tool("sh"), "-c", loop, "sh", "{url}")
    [run] = doc["scenarios"]
    assert code == 1 and run["verdict"] == "fail" and run["exit_code"] == 22
    assert f"counted {LOCKOUT_THRESHOLD} wrong passwords" in run["reason"]     # then locked
    judy = lab_endpoints.proxy["corp"].accounts["lockout-budget"]["username"]
    with holding_judy(lab_endpoints):
        assert not directory.locked(judy) and directory.bad_password_count(judy) == 0
    code, doc = matrix("--only", "lockout-budget", "--", tool("curl"), "-fsS", "-o",
                       "/dev/null", "{url}")
    [run] = doc["scenarios"]
    assert code == 0 and "after 1 wrong password(s)" in run["reason"], run


def test_lockout_budget_runs_at_once_never_count_each_others_attempts(tool, lab_endpoints):
    """Five `lab matrix` at once, each a client that tries twice: each run counts its own
    two (one run holds the user at a time)."""
    twice = "curl -fsS -o /dev/null \"$1\"; curl -fsS -o /dev/null \"$1\"; exit 22"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "matrix", "--json", "--only", "lockout-budget", "--",
         tool("sh"), "-c", twice, "sh", "{url}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        [run] = json.loads(out)["scenarios"]
        assert run["verdict"] == "pass" and "after 2 wrong password(s)" in run["reason"], err


def test_a_user_sent_with_its_own_password_still_gets_in_after_the_account_tests(
        tool, lab_endpoints):
    corp = lab_endpoints.proxy["corp"]
    status, body = curl(lab_endpoints.web.proxy_url + "simpleresource", "-x",
                        f"http://{corp.host}:{corp.port}", "-U",
                        f"{corp.username}:{corp.password}", program=tool("curl"))
    assert (status, body) == (200, SAMPLE_RESOURCE)
