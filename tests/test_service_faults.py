"""What `lab.stack.service_faults` reads from squid before it thaws a paused DC: the Basic
checks still in flight (squid's cache manager page, as squid 5.7 writes it)."""

import pytest

from lab.stack.service_faults import pending_checks

PAGE = """Basic Authenticator Statistics:
  program: /usr/bin/python3
  number active: 4 of 5 (0 shutting down)
  requests sent: {sent}
  replies received: {replies}
  requests timedout: {timedout}
  queue length: {queue}
  avg service time: 874 msec

   ID #\t     FD\t    PID\t # Requests\t  # Replies\t# Timed-out\t Flags\t   Time\t Offset\tRequest
      4\t     17\t    137\t         19\t         19\t          0\t      \t  0.006\t      0\t(none)
"""


@pytest.mark.parametrize("sent,replies,timedout,queue,pending", [
    (22, 22, 0, 0, 0),          # idle: the DC may be thawed
    (23, 22, 0, 0, 1),          # one check waiting on the frozen DC
    (25, 22, 1, 2, 4),          # two in flight, two queued behind them
    (22, 22, 1, 0, 0),          # never negative
])
def test_checks_in_flight_and_queued_are_pending(sent, replies, timedout, queue, pending):
    page = PAGE.format(sent=sent, replies=replies, timedout=timedout, queue=queue)
    assert pending_checks(page) == pending


def test_a_page_it_cannot_read_is_none():
    assert pending_checks("") is None
    assert pending_checks("Basic Authenticator Statistics:\n  requests sent: 3\n") is None


class _Container:
    """A container whose freeze fails `failures` times the way runc's does under load."""

    def __init__(self, failures: int, message: str = "unable to freeze: unknown"):
        self.status, self.failures, self.message, self.attempts = "running", failures, message, 0

    def pause(self):
        import docker.errors

        self.attempts += 1
        if self.attempts <= self.failures:
            raise docker.errors.APIError("500 Server Error", explanation=(
                f"Cannot pause container: OCI runtime pause failed: {self.message}"))
        self.status = "paused"


def _pause(monkeypatch, container):
    from lab.stack import service_faults

    monkeypatch.setattr(service_faults, "_container", lambda _stack, _service: container)
    container.waits = []
    monkeypatch.setattr(service_faults.time, "sleep", container.waits.append)
    service_faults.pause(object(), "dc")


def test_a_freeze_runc_gave_up_on_is_tried_again(monkeypatch):
    container = _Container(failures=2)
    _pause(monkeypatch, container)
    assert container.status == "paused" and container.attempts == 3
    assert container.waits == [0.2, 0.4]                # a growing back-off between tries


def test_a_freeze_that_keeps_failing_is_one_lab_error(monkeypatch):
    from lab.errors import LabError
    from lab.stack.service_faults import PAUSE_ATTEMPTS

    container = _Container(failures=PAUSE_ATTEMPTS)
    with pytest.raises(LabError, match="could not pause dc: .*unable to freeze"):
        _pause(monkeypatch, container)
    assert container.attempts == PAUSE_ATTEMPTS


def test_another_pause_error_is_not_retried(monkeypatch):
    from lab.errors import LabError

    container = _Container(failures=1, message="container is not running")
    with pytest.raises(LabError, match="not running"):
        _pause(monkeypatch, container)
    assert container.attempts == 1
