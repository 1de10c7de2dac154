"""The control API's routes, JSON and status codes (Toxiproxy's, from its api.go),
driven in-process on 127.0.0.1 by lab.faults.client.AsyncFaultClient."""

import ipaddress
import json
import random

from twisted.internet import defer, reactor
from twisted.trial import unittest
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers

from lab.faults.api import site
from lab.faults.client import AsyncFaultClient, FaultAPIError
from lab.faults.proxy import Proxies


class _ApiCase(unittest.TestCase):
    """A fault server's API on 127.0.0.1 (`upstreams`: the networks it may reach)."""

    timeout = 10
    upstreams = None

    def setUp(self):
        self.proxies = Proxies(reactor, random.Random(0), upstreams=self.upstreams)
        self.port = reactor.listenTCP(0, site(self.proxies), interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port.getHost().port}"
        self.pool = HTTPConnectionPool(reactor)
        self.api = AsyncFaultClient(self.url, reactor, self.pool)

    @defer.inlineCallbacks
    def tearDown(self):
        yield self.pool.closeCachedConnections()
        yield self.proxies.stop()
        yield self.port.stopListening()

    @defer.inlineCallbacks
    def status_of(self, call):
        try:
            yield call
        except FaultAPIError as error:
            return error.status, error.message
        return 200, None


class ApiTest(_ApiCase):
    @defer.inlineCallbacks
    def test_proxy_lifecycle_and_shapes(self):
        made = yield self.api.create_proxy("web", "127.0.0.1:9", "127.0.0.1:0")
        self.assertEqual(["name", "listen", "upstream", "enabled", "toxics"], list(made))
        self.assertNotEqual("127.0.0.1:0", made["listen"])
        self.assertEqual({"web": made}, (yield self.api.proxies()))
        self.assertEqual((409, "proxy already exists"),
                         (yield self.status_of(self.api.create_proxy("web", "127.0.0.1:9"))))
        down = yield self.api.disable("web")
        self.assertFalse(down["enabled"])
        self.assertEqual(made["listen"], down["listen"])
        yield self.api.delete_proxy("web")
        self.assertEqual((404, "proxy not found"), (yield self.status_of(self.api.proxy("web"))))

    @defer.inlineCallbacks
    def test_toxics_defaults_errors_update_and_reset(self):
        yield self.api.create_proxy("web", "127.0.0.1:9")
        toxic = yield self.api.add_toxic("web", "latency", {"latency": 100})
        self.assertEqual({"attributes": {"latency": 100, "jitter": 0}, "name":
                          "latency_downstream", "type": "latency", "stream": "downstream",
                          "toxicity": 1.0}, toxic)
        self.assertEqual((409, "toxic already exists"),
                         (yield self.status_of(self.api.add_toxic("web", "latency"))))
        self.assertEqual((400, "invalid toxic type"),
                         (yield self.status_of(self.api.add_toxic("web", "latncy"))))
        bad_stream = yield self.status_of(self.api.add_toxic("web", "latency", stream="up"))
        self.assertEqual(400, bad_stream[0])
        self.assertEqual((404, "toxic not found"),
                         (yield self.status_of(self.api.toxic("web", "nope"))))
        self.assertEqual(404, (yield self.status_of(self.api.add_toxic("nope", "latency")))[0])
        updated = yield self.api.update_toxic("web", "latency_downstream", {"jitter": 5}, 0.5)
        self.assertEqual(({"latency": 100, "jitter": 5}, 0.5),
                         (updated["attributes"], updated["toxicity"]))
        yield self.api.add_toxic("web", "timeout", {"timeout": 0}, stream="upstream")
        names = [t["name"] for t in (yield self.api.toxics("web"))]
        self.assertEqual(["timeout_upstream", "latency_downstream"], names)  # upstream first
        yield self.api.disable("web")
        yield self.api.reset()
        after = yield self.api.proxy("web")
        self.assertEqual((True, []), (after["enabled"], after["toxics"]))

    @defer.inlineCallbacks
    def test_raw_statuses_bodies_and_the_browser_guard(self):
        agent = Agent(reactor, self.pool)

        @defer.inlineCallbacks
        def call(method, path, body=None, agent_name=b"test"):
            from lab.faults.client import _Bytes

            response = yield agent.request(
                method, (self.url + path).encode(), Headers({b"user-agent": [agent_name]}),
                None if body is None else _Bytes(body))
            return response.code, (yield readBody(response))

        self.assertEqual((201, b'{"name": "a", "listen": "127.0.0.1:0"'),
                         ((yield call(b"POST", "/proxies", b'{"name": "a", "upstream": "x:1",'
                                      b' "enabled": false, "listen": "127.0.0.1:0"}'))[0],
                          (yield call(b"GET", "/proxies/a"))[1][:37]))
        code, body = yield call(b"POST", "/proxies", b'{"upstream": "x:1"}')
        self.assertEqual((400, {"error": "missing required field: name", "status": 400}),
                         (code, json.loads(body)))
        self.assertEqual(400, (yield call(b"POST", "/proxies", b"{not json"))[0])
        self.assertEqual((204, b""), (yield call(b"DELETE", "/proxies/a")))
        self.assertEqual((204, b""), (yield call(b"POST", "/reset")))
        self.assertEqual(404, (yield call(b"GET", "/nothing"))[0])
        self.assertEqual(405, (yield call(b"PUT", "/proxies"))[0])
        self.assertEqual(403, (yield call(b"GET", "/proxies", agent_name=b"Mozilla/5.0"))[0])
        made = yield call(b"POST", "/populate", b'[{"name": "b", "upstream": "x:1", '
                          b'"listen": "127.0.0.1:0", "enabled": false}]')
        self.assertEqual((201, ["b"]), (made[0], [p["name"] for p in
                                                   json.loads(made[1])["proxies"]]))
        self.assertEqual({"version": "2.12.0"}, json.loads((yield call(b"GET", "/version"))[1]))


class UpstreamsTest(_ApiCase):
    """A fault server told its networks (the lab's container is told the lab subnet)
    relays only into them: no relay to a metadata service or the host's LAN."""

    upstreams = (ipaddress.ip_network("10.77.0.0/24"),)

    @defer.inlineCallbacks
    def test_only_upstreams_inside_its_networks(self):
        made = yield self.api.create_proxy("in", "10.77.0.12:3128", enabled=False)
        self.assertEqual("10.77.0.12:3128", made["upstream"])
        for upstream in ("169.254.169.254:80", "127.0.0.1:2375", "10.77.1.1:80",
                         "metadata.google.internal:80"):
            status, message = yield self.status_of(self.api.create_proxy("out", upstream))
            self.assertEqual(403, status)
            self.assertIn("10.77.0.0/24", message)
        status, _ = yield self.status_of(self.api.update_proxy("in", upstream="169.254.169.254:80"))
        self.assertEqual(403, status)
        status, _ = yield self.status_of(self.api.populate(
            [{"name": "out", "upstream": "169.254.169.254:80", "enabled": False}]))
        self.assertEqual(403, status)
        self.assertEqual(["in"], list((yield self.api.proxies())))
        self.assertEqual("10.77.0.12:3128", (yield self.api.proxy("in"))["upstream"])


class ToxiproxyConformanceTest(_ApiCase):
    """Behaviour Toxiproxy's clients rely on, test for test from its api_test.go
    (Shopify/toxiproxy at f48fd7f), on ephemeral ports instead of its fixed ones."""

    @defer.inlineCallbacks
    def raw(self, method, path, body=None):
        from lab.faults.client import _Bytes

        agent = Agent(reactor, self.pool)
        response = yield agent.request(method, (self.url + path).encode(),
                                       Headers({b"user-agent": [b"test"]}),
                                       None if body is None else _Bytes(body))
        return response, (yield readBody(response))

    @defer.inlineCallbacks
    def test_listen_is_reported_as_bound(self):
        """TestListingProxies / TestCreateAndGetProxy: `localhost:N` is listed as
        127.0.0.1:N; TestCreateDisabledProxy: a disabled one keeps what was typed."""
        made = yield self.api.create_proxy("up", "127.0.0.1:9", "localhost:0")
        host, port = made["listen"].rsplit(":", 1)
        self.assertEqual("127.0.0.1", host)
        self.assertNotEqual("0", port)
        self.assertEqual(made["listen"], (yield self.api.proxy("up"))["listen"])
        down = yield self.api.create_proxy("down", "127.0.0.1:9", "localhost:0", enabled=False)
        self.assertEqual("localhost:0", down["listen"])

    @defer.inlineCallbacks
    def test_populate_keeps_an_existing_proxy_named_by_localhost(self):
        """TestPopulateExistingProxy: `localhost:N` is the same listen as 127.0.0.1:N,
        so the proxy stays, toxics and all; a changed one is replaced."""
        one = yield self.api.create_proxy("one", "127.0.0.1:9", "localhost:0")
        two = yield self.api.create_proxy("two", "127.0.0.1:9", "localhost:0")
        yield self.api.add_toxic("one", "latency", {"latency": 1})
        port_one = one["listen"].rsplit(":", 1)[1]
        made = yield self.api.populate([
            {"name": "one", "listen": f"localhost:{port_one}", "upstream": "127.0.0.1:9"},
            {"name": "two", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:10"}])
        self.assertEqual(["one", "two"], [p["name"] for p in made])
        self.assertEqual(one["listen"], made[0]["listen"])
        self.assertEqual(["latency"], [t["type"] for t in (yield self.api.toxics("one"))])
        self.assertEqual("127.0.0.1:10", made[1]["upstream"])
        self.assertNotEqual(two["listen"], made[1]["listen"])

    @defer.inlineCallbacks
    def test_populate_checks_every_entry_before_making_any(self):
        """TestPopulateWithBadName: the error names the entry, and nothing is made."""
        status, message = yield self.status_of(self.api.populate([
            {"name": "one", "listen": "localhost:0", "upstream": "127.0.0.1:9"},
            {"name": "", "listen": ""}]))
        self.assertEqual((400, "missing required field: name at proxy 2"), (status, message))
        self.assertEqual({}, (yield self.api.proxies()))

    @defer.inlineCallbacks
    def test_populate_stops_at_a_bad_entry_keeping_those_before(self):
        """TestPopulateProxyWithBadDataShouldReturnError: `one` is made, `two` (a bad
        listen) fails, `three` is not tried; the answer carries the error."""
        response, body = yield self.raw(b"POST", "/populate", json.dumps([
            {"name": "one", "listen": "localhost:0", "upstream": "127.0.0.1:9"},
            {"name": "two", "listen": "local373", "upstream": "127.0.0.1:9"},
            {"name": "three", "listen": "localhost:0", "upstream": "127.0.0.1:9"}]).encode())
        answer = json.loads(body)
        self.assertEqual((400, 400), (response.code, answer["status"]))
        self.assertIn("local373", answer["error"])
        self.assertEqual(["one"], [p["name"] for p in answer["proxies"]])
        self.assertEqual(["one"], list((yield self.api.proxies())))

    @defer.inlineCallbacks
    def test_populate_defaults_to_enabled(self):
        """TestPopulateDefaultEnabled and TestPopulateDisabledProxy."""
        made = yield self.api.populate([
            {"name": "on", "listen": "localhost:0", "upstream": "127.0.0.1:9"},
            {"name": "off", "listen": "localhost:0", "upstream": "127.0.0.1:9",
             "enabled": False}])
        self.assertEqual([True, False], [p["enabled"] for p in made])

    @defer.inlineCallbacks
    def test_connections_lists_the_journal_after_a_number(self):
        """The lab's own route: the journal's events after `since`, and its last number;
        a `since` that is not a number is a 400."""
        self.assertEqual({"events": [], "first": 1, "last": 0}, (yield self.api.connections()))
        self.proxies.journal.opened("web", "127.0.0.1:5000", "127.0.0.1:5001")
        self.proxies.journal.opened("web", "127.0.0.1:5002", "127.0.0.1:5003")
        answer = yield self.api.connections(since=1)
        self.assertEqual((1, 2, [2], ["127.0.0.1:5002"]),
                         (answer["first"], answer["last"], [e["seq"] for e in answer["events"]],
                          [e["client"] for e in answer["events"]]))
        response, body = yield self.raw(b"GET", "/connections?since=-1")
        self.assertEqual((400, "bad request body: since must be a whole number, not '-1'"),
                         (response.code, json.loads(body)["error"]))
        response, _ = yield self.raw(b"POST", "/connections")
        self.assertEqual(405, response.code)

    @defer.inlineCallbacks
    def test_every_answer_carries_a_request_id(self):
        """TestRequestId: X-Toxiproxy-Request-Id, a fresh one per request."""
        ids = []
        for _ in range(2):
            response, _ = yield self.raw(b"GET", "/version")
            ids += response.headers.getRawHeaders(b"x-toxiproxy-request-id")
        self.assertEqual(2, len(set(ids)))


class BoundsTest(_ApiCase):
    """Where Toxiproxy leaves the cost of a request to its host's memory, this fault
    server answers 4xx: a runaway script cannot take the fault layer down."""

    def exchange(self, head: bytes, body: bytes) -> defer.Deferred:
        """`head` and `body` in one write on a raw socket; fires with all it got back."""
        import socket

        from twisted.internet import threads

        def talk() -> bytes:
            with socket.create_connection(("127.0.0.1", self.port.getHost().port), 5) as conn:
                try:
                    conn.sendall(head + body)
                except OSError:
                    pass                 # refused mid-body: the 413 is what to read
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
                return answer

        return threads.deferToThread(talk)

    @defer.inlineCallbacks
    def test_a_body_over_the_bound_is_a_413_and_never_processed(self):
        """By its Content-Length, chunked (the piece that crosses the bound arriving with
        the end of the body), or announced with `Expect: 100-continue`: a 413, no
        `100 Continue`, and the request that would have made a proxy made none."""
        from lab.faults.api import MAX_BODY

        made = json.dumps({"name": "sneak", "upstream": "127.0.0.1:9", "enabled": False,
                           "pad": "x" * MAX_BODY}).encode()
        head = b"POST /proxies HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n"
        answers = [
            (yield self.exchange(head + b"Content-Length: %d\r\n\r\n" % len(made), made)),
            (yield self.exchange(head + b"Transfer-Encoding: chunked\r\n\r\n",
                                 b"%x\r\n%s\r\n0\r\n\r\n" % (len(made), made))),
            (yield self.exchange(head + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                                 % len(made), b"")),
        ]
        for answer in answers:
            self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
            self.assertIn(f"request body larger than {MAX_BODY} bytes".encode(), answer)
            self.assertIn(b"X-Toxiproxy-Request-Id: ", answer)
        self.assertEqual({}, (yield self.api.proxies()))

    @defer.inlineCallbacks
    def test_toxics_names_and_numbers_are_bounded(self):
        from lab.faults.schema import MAX_NAME, MAX_TOXICS

        yield self.api.create_proxy("web", "127.0.0.1:9", enabled=False)
        for number in range(MAX_TOXICS):
            yield self.api.add_toxic("web", "latency", name=f"t{number}")
        self.assertEqual((400, f"a proxy holds at most {MAX_TOXICS} toxics"),
                         (yield self.status_of(self.api.add_toxic("web", "latency"))))
        status, message = yield self.status_of(self.api.create_proxy(
            "x" * (MAX_NAME + 1), "127.0.0.1:9"))
        self.assertEqual(400, status)
        self.assertIn(f"longer than {MAX_NAME}", message)
        yield self.api.delete_proxy("web")
        yield self.api.create_proxy("web", "127.0.0.1:9", enabled=False)
        status, message = yield self.status_of(
            self.api.add_toxic("web", "latency", {"latency": 2**63}))
        self.assertEqual(400, status)
        self.assertIn(f"from 0 to {2**63 - 1}", message)
        made = yield self.api.add_toxic("web", "latency", {"latency": 2**63 - 1})
        self.assertEqual(2**63 - 1, made["attributes"]["latency"])


class AdmittedClientsTest(_ApiCase):
    """The API admits the clients its proxies admit: outside them, closed unanswered."""

    @defer.inlineCallbacks
    def test_the_api_closes_a_client_outside_its_networks(self):
        from twisted.web._newclient import ResponseNeverReceived

        self.proxies.clients = (ipaddress.ip_network("10.99.0.0/16"),)
        yield self.assertFailure(self.api.version(), ResponseNeverReceived, ConnectionError)
        self.proxies.clients = (ipaddress.ip_network("127.0.0.0/8"),)
        self.assertEqual("2.12.0", (yield self.api.version()))
