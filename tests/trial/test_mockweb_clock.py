"""lab.web.server's timed parts on a `task.Clock`: `/slow` and the request records."""

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web import server
from twisted.web.test.requesthelper import DummyRequest

from lab.mockweb import MockWebServer, RequestLog, SlowResource, build_root


class _Request(DummyRequest):
    """DummyRequest with what the recording reads (DummyRequest has no isSecure)."""

    def __init__(self, path: bytes, secure: bool = False):
        super().__init__(path.split(b"/")[1:])
        self.path = path
        self.secure = secure
        self.client = IPv4Address("TCP", "192.0.2.7", 40000)

    def isSecure(self):
        return self.secure


class SlowTests(unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.slow = SlowResource(self.clock)

    def test_answers_after_exactly_the_seconds_asked(self):
        request = _Request(b"/slow")
        request.args = {b"seconds": [b"5"]}
        self.assertEqual(server.NOT_DONE_YET, self.slow.render(request))
        self.clock.advance(4.999)
        self.assertEqual(0, request.finished)
        self.clock.advance(0.001)
        self.assertEqual(1, request.finished)
        self.assertEqual(b"slept 5.0\n", b"".join(request.written))

    def test_seconds_beyond_the_bound_are_a_400_and_no_timer(self):
        for seconds in ("3600", "-1", "abc", "nan", "inf"):
            request = _Request(b"/slow")
            request.args = {b"seconds": [seconds.encode()]}
            body = self.slow.render(request)
            self.assertEqual(400, request.responseCode, seconds)
            self.assertEqual(f"seconds must be a number from 0 to 30, got {seconds!r}\n",
                             body.decode())
            self.assertEqual([], self.clock.getDelayedCalls())

    def test_an_argument_that_is_not_utf8_is_a_400(self):
        request = _Request(b"/slow")
        request.args = {b"seconds": [b"\xff"]}
        self.assertEqual(b"seconds is not UTF-8\n", self.slow.render(request))
        self.assertEqual(400, request.responseCode)

    def test_client_gone_cancels_the_timer(self):
        request = _Request(b"/slow")
        self.slow.render(request)
        request.processingFailed(Failure(ConnectionError("client went away")))
        self.assertEqual([], self.clock.getDelayedCalls())


class RecordTests(unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()

    def test_time_is_the_reactors(self):
        log = RequestLog(self.clock)
        self.clock.advance(1234.5)
        entry = log.record(_Request(b"/matrix/r/s", secure=True))
        self.assertEqual((1234.5, "https", "192.0.2.7"),
                         (entry["time"], entry["scheme"], entry["client"]))

    def test_bounded_oldest_forgotten_first(self):
        log = RequestLog(self.clock, limit=3)
        for number in range(5):
            log.record(_Request(f"/matrix/r/{number}".encode()))
        self.assertEqual(["/matrix/r/2", "/matrix/r/3", "/matrix/r/4"],
                         [r["path"] for r in log.query("/matrix/r/")])

    def test_query_returns_copies(self):
        log = RequestLog(self.clock)
        log.record(_Request(b"/matrix/r/s"))
        log.query()[0]["path"] = "changed"
        self.assertEqual("/matrix/r/s", log.query()[0]["path"])

    def test_site_records_through_the_matrix_resource(self):
        log = RequestLog(self.clock)
        root = build_root(self.clock, log)
        request = _Request(b"/matrix/run/scenario")
        resource = root.getChildWithDefault(b"matrix", request)
        request.postpath = [b"run", b"scenario"]
        self.assertEqual(b"lab matrix run/scenario ok\n", resource.render(request))
        self.assertEqual(["/matrix/run/scenario"], [r["path"] for r in log.query()])

    def test_server_takes_its_reactor(self):
        """A `MockWebServer` on a fake reactor listens there, not on the global one."""
        from twisted.internet.testing import MemoryReactorClock

        fake = MemoryReactorClock()
        web = self.successResultOf(MockWebServer.start("127.0.0.1", reactor=fake,
                                                       max_records=7))
        self.assertEqual(2, len(fake.tcpServers) + len(fake.sslServers))
        self.assertEqual(7, web.requests.records.maxlen)
        self.assertIs(fake, web.requests.reactor)
        self.successResultOf(web.stop())
