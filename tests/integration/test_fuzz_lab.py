"""The fuzz pass of tests/test_fuzz.py against the lab's own containers (their Debian
Twisted, the fault layer's allowed networks, docker's port publishing), a smaller
batch each, and the lab still passes `lab check` after it. Alone: the batch resets
the fault layer's toxics."""

from __future__ import annotations

import random
import subprocess
import time

import pytest

from harness import fuzz
from tests.integration.helpers import run_lab

pytestmark = [pytest.mark.exclusive, pytest.mark.timeout(300)]
SEED = 23


def test_the_lab_answers_a_fuzz_batch_with_4xx_and_still_checks(lab_faults, lab_stack,
                                                                 lab_endpoints):
    from lab.config.topology import PORTS_BY_NAME
    from lab.stack import service_faults

    api = fuzz.address(service_faults.api_url(lab_stack))
    since = int(time.time()) - 1
    before = set(lab_faults.proxies())
    web_inside = f"{lab_stack.config.address('web')}:{PORTS_BY_NAME['web'].container_port}"
    try:
        outcomes = list(fuzz.run(api, fuzz.fault_api_cases(random.Random(SEED), 200,
                                                           web_inside)))
        for outcome in outcomes:
            if len(outcome.case.body) > fuzz.REFUSED_WHILE_SENT:
                assert outcome.status in (413, 0), outcome
                continue
            assert outcome.status not in (None, 0), f"no answer to {outcome.case}"
            assert outcome.status < 500 or b"cannot listen on" in outcome.body, outcome
        origin = fuzz.address(lab_endpoints.web.url)

        answers = fuzz.run_origin(origin, fuzz.origin_cases(random.Random(SEED), 150))
        for outcome in answers:
            page = outcome.case.page
            asked = outcome.case.target.partition("=")[2].split("&")[0]
            assert outcome.status is not None or page in fuzz.LATE_PAGES, outcome
            assert (outcome.status or 0) < 500 or asked == str(outcome.status), outcome
    finally:
        for name in set(lab_faults.proxies()) - before:
            lab_faults.delete_proxy(name)
    assert set(lab_faults.proxies()) == before
    states = lab_stack.states()
    for service in ("faults", "web"):
        logs = subprocess.run(["docker", "logs", "--since", str(since),
                               states[service].container_id], capture_output=True,
                              timeout=60, check=True)
        assert b"Traceback" not in logs.stdout + logs.stderr, service
    check = run_lab("check", timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
