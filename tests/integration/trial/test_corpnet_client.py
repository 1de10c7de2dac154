"""lab.proxy against the lab's corporate-network services (issue 12), under trial:
the TLS-inspecting `bump` port, SOCKS5 (dante) on `socks`, and the PAC file the
web service serves at `pac.url`. Real squid, dante and origin; no fakes.

trial's dirty-reactor check runs after every test: every client is shut down
(its kept-alive connections closed) by a clean-up.
"""

import json
import uuid

from twisted.internet import defer, endpoints, reactor, ssl
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

from lab.mockweb import SAMPLE_RESOURCE
from lab.proxy import (
    Credentials,
    DirectAgent,
    OriginTLSError,
    ProxyAuthenticationError,
    ProxyWebClient,
    Route,
    SOCKSAgent,
    load_trust_root,
)
from lab.testcases import SquidTestCase

CONCURRENT = 20
TIMEOUT = 15           # each request's own bound, inside the test's `timeout`


def _common_name(pem_path: str) -> str:
    with open(pem_path, "rb") as pem:
        return ssl.Certificate.loadPEM(pem.read()).getSubject().commonName.decode()


@implementer(IStreamClientEndpoint)
class _CountingEndpoint:
    """A real endpoint that notes each connection it opens (keep-alive evidence)."""

    def __init__(self, endpoint, connects: list):
        self._endpoint = endpoint
        self.connects = connects

    def connect(self, factory):
        self.connects.append(factory)
        return self._endpoint.connect(factory)


class CorpnetTestCase(SquidTestCase):
    timeout = 60

    def setUp(self):
        super().setUp()
        lab = self.get_endpoints()
        self.web = lab.web
        self.web_ca = load_trust_root(self.web.ca_cert)
        self.assertIsNotNone(lab.corporate_ca, "this lab has no corporate CA (issue 12)")
        self.corporate_ca = load_trust_root(lab.corporate_ca)
        self.corporate_issuer = _common_name(lab.corporate_ca)
        self.web_issuer = _common_name(self.web.ca_cert)

    def keep(self, client):
        self.addCleanup(client.shutdown)
        return client

    def bank_url(self, path: str) -> str:
        """The web service under its second name, which the bump port splices."""
        domain = self.get_endpoints().dc.domain
        return f"https://bank.{domain}/{path}"


class BumpClientTest(CorpnetTestCase):
    """The `bump` port: open like `noauth`, re-signs every HTTPS origin with the
    corporate CA, except the names in `[proxy] bump_exempt` (bank), which it splices."""

    def client(self, trust_root):
        bump = self.get_endpoints().proxy["bump"]
        return self.keep(ProxyWebClient(bump.host, bump.port, trust_root=trust_root))

    @defer.inlineCallbacks
    def test_https_trusting_the_corporate_ca(self):
        client = self.client(self.corporate_ca)
        body = yield client.get_page(self.web.https_proxy_url + "simpleresource",
                                     timeout=TIMEOUT)
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_https_trusting_only_the_web_ca_names_the_corporate_issuer(self):
        client = self.client(self.web_ca)
        exc = yield self.assertFailure(
            client.get_page(self.web.https_proxy_url + "simpleresource", timeout=TIMEOUT),
            OriginTLSError)
        self.assertEqual(self.corporate_issuer, exc.issuer)
        self.assertIn(repr(self.corporate_issuer), str(exc))
        self.assertIn("corporate_ca", str(exc))

    @defer.inlineCallbacks
    def test_exempt_name_is_spliced_with_the_origins_own_certificate(self):
        client = self.client(self.web_ca)
        body = yield client.get_page(self.bank_url("simpleresource"), timeout=TIMEOUT)
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_exempt_name_is_not_re_signed_by_the_corporate_ca(self):
        client = self.client(self.corporate_ca)
        exc = yield self.assertFailure(
            client.get_page(self.bank_url("simpleresource"), timeout=TIMEOUT), OriginTLSError)
        self.assertEqual(self.web_issuer, exc.issuer)

    @defer.inlineCallbacks
    def test_both_cas_trusted_cover_bumped_and_spliced_names(self):
        client = self.client(load_trust_root(self.web.ca_cert,
                                             self.get_endpoints().corporate_ca))
        for url in (self.web.https_proxy_url, self.bank_url("")):
            self.assertEqual(SAMPLE_RESOURCE,
                             (yield client.get_page(url + "simpleresource", timeout=TIMEOUT)))

    @defer.inlineCallbacks
    def test_plain_http(self):
        client = self.client(self.corporate_ca)
        body = yield client.get_page(self.web.proxy_url + "simpleresource", timeout=TIMEOUT)
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_concurrent_https_through_one_agent(self):
        client = self.client(self.corporate_ca)
        url = self.web.https_proxy_url + "simpleresource"
        bodies = yield defer.gatherResults(
            [client.get_page(url, timeout=TIMEOUT) for _ in range(CONCURRENT)],
            consumeErrors=True)
        self.assertEqual([SAMPLE_RESOURCE] * CONCURRENT, bodies)
        self.assertGreater(len(client.agent.pool), 0, "no connection kept alive")


class SOCKSClientTest(CorpnetTestCase):
    """The `socks` port: dante, RFC 1929 username/password, names resolved in the lab."""

    def client(self, password=None, counting=None):
        """A client through the lab's SOCKS port; `counting` (a list) collects one
        entry per connection opened to the SOCKS proxy."""
        socks = self.get_endpoints().proxy["socks"]
        self.assertEqual("socks5h", socks.scheme)
        credentials = Credentials(socks.username,
                                  socks.password if password is None else password)
        endpoint = None
        if counting is not None:
            endpoint = _CountingEndpoint(
                endpoints.HostnameEndpoint(reactor, socks.host, socks.port, timeout=TIMEOUT),
                counting)
        agent = SOCKSAgent(reactor, socks.host, socks.port, credentials, endpoint=endpoint,
                           trust_root=self.web_ca, answer_timeout=TIMEOUT)
        return self.keep(ProxyWebClient(agent=agent))

    @defer.inlineCallbacks
    def test_http_with_the_labs_credentials(self):
        client = self.client()
        body = yield client.get_page(self.web.proxy_url + "simpleresource", timeout=TIMEOUT)
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_https_with_the_labs_credentials(self):
        client = self.client()
        body = yield client.get_page(self.web.https_proxy_url + "simpleresource",
                                     timeout=TIMEOUT)
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_wrong_password_is_refused_promptly(self):
        client = self.client(password="not-" + self.get_endpoints().proxy["socks"].password)
        started = reactor.seconds()
        exc = yield self.assertFailure(
            client.get_page(self.web.proxy_url + "simpleresource", timeout=TIMEOUT),
            ProxyAuthenticationError)
        self.assertIn("refused the user name and password", str(exc))
        self.assertNotIn(self.get_endpoints().proxy["socks"].password, str(exc))
        self.assertLess(reactor.seconds() - started, 5, "the refusal was not prompt")

    @defer.inlineCallbacks
    def test_keep_alive_reuses_the_socks_connection(self):
        connects = []
        client = self.client(counting=connects)
        for base in (self.web.proxy_url, self.web.https_proxy_url):
            for _ in range(3):
                self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(
                    base + "simpleresource", timeout=TIMEOUT)))
        self.assertEqual(2, len(connects), "one SOCKS connection per origin, kept alive")

    @defer.inlineCallbacks
    def test_concurrent_requests_through_one_agent(self):
        client = self.client()
        urls = [(self.web.proxy_url if i % 2 else self.web.https_proxy_url) + "simpleresource"
                for i in range(CONCURRENT)]
        bodies = yield defer.gatherResults(
            [client.get_page(url, timeout=TIMEOUT) for url in urls], consumeErrors=True)
        self.assertEqual([SAMPLE_RESOURCE] * CONCURRENT, bodies)


class PACClientTest(CorpnetTestCase):
    """The PAC file at `pac.url` (host view), fetched and run by the client (pypac):
    lab names go through the proxy it names, loopback goes DIRECT; the origin's record
    of each request says which way it came."""

    @defer.inlineCallbacks
    def setUp(self):
        super().setUp()
        self.pac_client = self.keep((yield defer.Deferred.fromCoroutine(
            ProxyWebClient.from_pac(self.get_endpoints().pac_url, trust_root=self.web_ca))))
        self.token = f"/matrix/{uuid.uuid4().hex}/pac"

    @defer.inlineCallbacks
    def origin_saw(self):
        """What the origin recorded under this test's token, asked of it directly."""
        agent = self.keep(ProxyWebClient(agent=DirectAgent(reactor)))
        body = yield agent.get_page(self.web.url + "_lab/requests?prefix=" + self.token,
                                    timeout=TIMEOUT)
        return json.loads(body)["requests"]

    def named_route(self, url: str) -> Route:
        """The first route the PAC gives for `url`: an HTTP proxy, for a lab name."""
        route = self.pac_client.agent.pac.routes(url)[0]
        self.assertEqual("PROXY", route.kind, f"the lab's PAC sends {url} to {route}")
        return route

    def matrix_answer(self) -> bytes:
        run = self.token.split("/")[2]
        return f"lab matrix {run}/pac ok\n".encode()

    @defer.inlineCallbacks
    def test_lab_name_goes_through_the_proxy_the_pac_names(self):
        url = "http://web." + self.get_endpoints().dc.domain + self.token + "/x"
        route = self.named_route(url)
        body = yield self.pac_client.get_page(url, timeout=TIMEOUT)
        self.assertEqual(self.matrix_answer(), body)
        self.assertEqual([route], list(self.pac_client.agent.routes_taken))
        seen = yield self.origin_saw()
        self.assertEqual([self.token + "/x"], [r["path"] for r in seen])
        self.assertEqual(self.get_endpoints().proxy_lab_address, seen[0]["client"])
        self.assertIn("squid", seen[0]["via"] or "", "squid adds Via to what it forwards")

    @defer.inlineCallbacks
    def test_https_lab_name_goes_through_the_proxy_the_pac_names(self):
        url = "https://web." + self.get_endpoints().dc.domain + self.token + "/tls"
        route = self.named_route(url)
        body = yield self.pac_client.get_page(url, timeout=TIMEOUT)
        self.assertEqual(self.matrix_answer(), body)
        self.assertEqual([route], list(self.pac_client.agent.routes_taken))
        seen = yield self.origin_saw()
        self.assertEqual([("https", self.get_endpoints().proxy_lab_address)],
                         [(r["scheme"], r["client"]) for r in seen])

    @defer.inlineCallbacks
    def test_loopback_goes_direct(self):
        url = self.web.url + self.token[1:] + "/direct"
        self.assertEqual(Route("DIRECT"), self.pac_client.agent.pac.routes(url)[0])
        body = yield self.pac_client.get_page(url, timeout=TIMEOUT)
        self.assertEqual(self.matrix_answer(), body)
        self.assertEqual([Route("DIRECT")], list(self.pac_client.agent.routes_taken))
        seen = yield self.origin_saw()
        self.assertEqual([self.token + "/direct"], [r["path"] for r in seen])
        self.assertNotEqual(self.get_endpoints().proxy_lab_address, seen[0]["client"])
        self.assertIsNone(seen[0]["via"])
