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
