"""The lab's logs as `lab matrix`'s evidence reads them (`lab.stack.service_logs`), on the
real lab: a mark is the log's size as the engine says it (its archive API, no process in
the container), between what `stat` in the container said before and after; what a
request writes after the mark is what `since` reads; a file that is not there has no mark.
Other tests write to the same logs meanwhile: each check holds whatever they add."""

import time
import uuid

import pytest

from lab.stack.service_logs import LOGS, ServiceLog
from tests.integration.helpers import curl

pytestmark = pytest.mark.timeout(60)


def _stat(lab_stack, service: str, path: str) -> int:
    ran = lab_stack.engine.run_in(lab_stack.states()[service], ["stat", "-c", "%s", path])
    assert ran is not None and ran[0] == 0, ran
    return int(ran[1])


@pytest.mark.parametrize("name", sorted(LOGS))
def test_a_mark_is_the_logs_size_as_stat_in_the_container_says(name, lab_stack):
    service, path = LOGS[name]
    before = _stat(lab_stack, service, path)
    mark = ServiceLog(lab_stack, service, path).mark()
    after = _stat(lab_stack, service, path)
    assert mark is not None and before <= mark <= after


def test_since_a_mark_reads_what_a_request_wrote_after_it(tool, lab_stack, lab_endpoints):
    service, path = LOGS["squid"]
    log = ServiceLog(lab_stack, service, path)
    mark = log.mark()
    token = uuid.uuid4().hex
    noauth = lab_endpoints.proxy["noauth"]
    # in the path: squid leaves a query out of its log
    status, _ = curl(f"{lab_endpoints.web.proxy_url}{token}",
                     "-x", f"http://{noauth.host}:{noauth.port}", program=tool("curl"))
    assert status == 404                  # the origin's answer: the request got through
    # squid writes its line once the transaction ends, a moment after curl has its answer
    deadline = time.monotonic() + 10
    while token not in (read := log.since(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)   # polling a condition, bounded: the log has no event
    assert token in read
    assert token not in log.since(log.mark())


def test_a_file_that_is_not_there_has_no_mark(lab_stack):
    assert ServiceLog(lab_stack, "proxy", f"/var/log/{uuid.uuid4().hex}.log").mark() is None
