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
