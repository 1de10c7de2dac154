"""lab.web.server under trial: every resource over real HTTP(S), plus the listening step.

Each test stops its server; trial's dirty-reactor check then proves nothing
(listener, connection, delayed call) was left behind. Clients are
`twisted.web.client.Agent`s with non-persistent pools, so this runs on bare
Twisted (22.4 as in the web image, or current) with no treq.
"""

import json

from twisted.internet import defer, error, protocol, reactor, tcp
from twisted.trial import unittest
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, readBody
from twisted.web.http_headers import Headers

from lab.mockweb import SAMPLE_RESOURCE, MockWebServer, NotListeningError


@defer.inlineCallbacks
def fetch(url: str, headers: dict | None = None, trust=None, method: bytes = b"GET"):
    """(response, body) of one request; `trust` is the HTTPS trust root."""
    agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=trust))
    raw = Headers({k.encode(): [v.encode()] for k, v in (headers or {}).items()})
    response = yield agent.request(method, url.encode(), raw)
    body = yield readBody(response)
    return response, body


def header(response, name: str):
    values = response.headers.getRawHeaders(name.encode())
    return values[0].decode() if values else None


class MockWebTestCase(unittest.TestCase):
    timeout = 20

    @defer.inlineCallbacks
    def setUp(self):
        self.server = yield MockWebServer.start("127.0.0.1", host="localhost")
        self.addCleanup(self.server.stop)
        self.trust = self.server.certificate.trust_root()

    def urls(self):
        return [self.server.get_url(), self.server.get_https_url()]

    def get(self, url, **kwargs):
        return fetch(url, trust=self.trust, **kwargs)


class RootTests(MockWebTestCase):
    @defer.inlineCallbacks
    def test_root_is_an_html_index_with_links(self):
        for url in self.urls():
            response, body = yield self.get(url)
            self.assertEqual(200, response.code, url)
            self.assertTrue(header(response, "content-type").startswith("text/html"))
            self.assertIn(b'<a href="/simpleresource">', body)
            self.assertIn(b"/_lab/requests", body)

    @defer.inlineCallbacks
    def test_root_is_json_when_asked(self):
        for url in self.urls():
            response, body = yield self.get(url, headers={"Accept": "application/json"})
            self.assertEqual(200, response.code, url)
            self.assertEqual("application/json", header(response, "content-type"))
            paths = [r["path"] for r in json.loads(body)["resources"]]
            self.assertIn("/simpleresource", paths)
            self.assertIn("/matrix/<run>/<scenario>", paths)
            self.assertTrue(all(r["description"] for r in json.loads(body)["resources"]))

    @defer.inlineCallbacks
    def test_unknown_paths_are_still_404(self):
        for path in ("nothing", "simpleresource-not", "_lab", "_lab/", "_lab/nothing"):
            response, _ = yield self.get(self.server.get_url() + path)
            self.assertEqual(404, response.code, path)


class ResourceTests(MockWebTestCase):
    @defer.inlineCallbacks
    def test_seed_resources(self):
        for url in self.urls():
            response, body = yield self.get(url + "simpleresource")
            self.assertEqual((200, SAMPLE_RESOURCE), (response.code, body))
            self.assertEqual(404, (yield self.get(url + "throwerror"))[0].code)
            self.assertEqual(401, (yield self.get(url + "unauthorized"))[0].code)

    @defer.inlineCallbacks
    def test_headers_redirect_large(self):
        url = self.server.get_url()
        _, body = yield self.get(url + "headers", headers={"X-Probe": "1"})
        seen = json.loads(body)
        self.assertEqual(["1"], seen["headers"]["x-probe"])
        self.assertEqual("127.0.0.1", seen["client"])
        response, _ = yield self.get(url + "redirect?to=/headers")
        self.assertEqual((302, "/headers"), (response.code, header(response, "location")))
        _, body = yield self.get(url + "large?bytes=300000")
        self.assertEqual(300000, len(body))

    @defer.inlineCallbacks
    def test_status(self):
        response, _ = yield self.get(self.server.get_url() + "status?code=503")
        self.assertEqual((503, "1"), (response.code, header(response, "retry-after")))
        response, _ = yield self.get(self.server.get_url() + "status?code=418")
        self.assertEqual((418, None), (response.code, header(response, "retry-after")))
        response, _ = yield self.get(self.server.get_url() + "status?code=nonsense")
        self.assertEqual(400, response.code)


class MatrixRecordingTests(MockWebTestCase):
    def records(self, prefix):
        url = self.server.get_url() + "_lab/requests?prefix=" + prefix
        return self.get(url).addCallback(lambda result: json.loads(result[1])["requests"])

    @defer.inlineCallbacks
    def test_matrix_requests_are_answered_and_recorded(self):
        http, https = self.urls()
        response, body = yield self.get(http + "matrix/run1/direct/deeper?q=1")
        self.assertEqual((200, b"lab matrix run1/direct ok\n"), (response.code, body))
        self.assertEqual("no-store", header(response, "cache-control"))
        yield self.get(https + "matrix/run1/proxied", headers={
            "Proxy-Authorization": "Basic eDp5", "Via": "1.1 squid",
            "X-Forwarded-For": "10.0.0.7"})
        yield self.get(http + "matrix/run2/other")
        first, second = yield self.records("/matrix/run1/")
        self.assertEqual({"path": "/matrix/run1/direct/deeper", "method": "GET",
                          "client": "127.0.0.1", "scheme": "http",
                          "host": self.server.get_url().split("/")[2],
                          "proxy_authorization": False, "via": None,
                          "x_forwarded_for": None},
                         {k: v for k, v in first.items() if k not in ("time", "client_port")})
        self.assertIsInstance(first["time"], float)
        # the client's own port (an ephemeral one): what ties a tunnel to squid's line
        self.assertTrue(1024 <= first["client_port"] <= 65535, first["client_port"])
        self.assertEqual(("https", True, "1.1 squid", "10.0.0.7"),
                         (second["scheme"], second["proxy_authorization"], second["via"],
                          second["x_forwarded_for"]))
        self.assertEqual(3, len((yield self.records(""))))

    @defer.inlineCallbacks
    def test_paths_without_run_and_scenario_are_404_and_not_recorded(self):
        for path in ("matrix", "matrix/", "matrix/run1", "matrix/run1/", "matrix//x"):
            response, _ = yield self.get(self.server.get_url() + path)
            self.assertEqual(404, response.code, path)
        self.assertEqual([], (yield self.records("")))

    @defer.inlineCallbacks
    def test_records_are_json(self):
        response, body = yield self.get(self.server.get_url() + "_lab/requests")
        self.assertEqual("application/json", header(response, "content-type"))
        self.assertEqual({"requests": []}, json.loads(body))


class _Nothing(protocol.Protocol):
    pass


def listening_ports() -> set:
    return {r for r in reactor.getReaders() if isinstance(r, tcp.Port)}


class ListeningStepTests(unittest.TestCase):
    """A taken port fails `listening()` catchably and leaves nothing listening."""

    timeout = 20

    def setUp(self):
        self.blocker = reactor.listenTCP(0, protocol.Factory.forProtocol(_Nothing),
                                         interface="127.0.0.1")
        self.addCleanup(self.blocker.stopListening)
        self.taken = self.blocker.getHost().port
        self.before = listening_ports()

    @defer.inlineCallbacks
    def assertFailsCleanly(self, **ports):
        server = MockWebServer("127.0.0.1", **ports)
        exc = yield self.assertFailure(server.listening(), error.CannotListenError)
        self.assertIn(str(self.taken), str(exc))
        self.assertEqual(self.before, listening_ports(), "a listener was left open")
        for get in (server.get_url, server.get_https_url):
            raised = self.assertRaises(NotListeningError, get)
            self.assertIs(exc, raised.__cause__)
        self.assertIsNone((yield server.stop()))

    def test_http_port_taken(self):
        return self.assertFailsCleanly(port=self.taken)

    def test_https_port_taken(self):
        return self.assertFailsCleanly(https_port=self.taken)

    def test_both_ports_taken(self):
        return self.assertFailsCleanly(port=self.taken, https_port=self.taken)

    def test_start_fails_the_same_way(self):
        return self.assertFailure(MockWebServer.start("127.0.0.1", port=self.taken),
                                  error.CannotListenError)

    @defer.inlineCallbacks
    def test_listening_fires_with_the_server_and_stop_closes_it(self):
        server = MockWebServer("127.0.0.1")
        self.assertIs(server, (yield server.listening()))
        self.assertEqual(2, len(listening_ports() - self.before))
        self.assertTrue(server.get_url().startswith("http://127.0.0.1:"))
        yield server.stop()
        self.assertEqual(self.before, listening_ports())
        self.assertRaises(NotListeningError, server.get_url)
