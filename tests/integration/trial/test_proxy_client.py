"""lab.proxy against the lab's real squid, over HTTP and HTTPS, under trial.

trial's dirty-reactor check runs after every test: a keep-alive connection to
squid left open by the client would fail the test that made it.
"""

import json

from twisted.internet import defer, ssl
from twisted.web import error

from lab.config.discovery import load_config
from lab.mockweb import SAMPLE_RESOURCE, MockWebServer
from lab.proxy import (
    OriginError,
    OriginTLSError,
    ProxyAuthenticationError,
    ProxyForbiddenError,
    ProxyUnreachableError,
    ProxyWebClient,
)
from lab.testcases import SquidTestCase
from lab.testing.ports import host_server_ports, release_port


class ProxyClientMixin:
    scheme = "http"

    def setUp(self):
        super().setUp()
        web = self.get_endpoints().web
        self.base = web.proxy_url if self.scheme == "http" else web.https_proxy_url
        with open(web.ca_cert, "rb") as pem:
            self.trust_root = ssl.Certificate.loadPEM(pem.read())

    def client(self, settings, username=None, password=None, trust_root=None):
        client = ProxyWebClient(settings["host"], settings["port"], username, password,
                                trust_root=trust_root or self.trust_root)
        self.addCleanup(client.shutdown)
        return client

    def auth_client(self, settings=None):
        settings = settings or self.get_auth_proxy_settings()
        return self.client(settings, settings["username"], settings["password"])

    @defer.inlineCallbacks
    def test_noauth_port(self):
        client = self.client(self.get_nonauth_proxy_settings())
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.base + "simpleresource")))

    @defer.inlineCallbacks
    def test_basic_port_with_right_credentials(self):
        client = self.auth_client()
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.base + "simpleresource")))

    @defer.inlineCallbacks
    def test_credentials_are_sent_preemptively_after_the_first_challenge(self):
        client = self.auth_client()
        for _ in range(3):
            yield client.get_page(self.base + "simpleresource")
        self.assertEqual(1, client.agent.challenges_seen)

    def test_basic_port_with_swapped_credentials(self):
        settings = self.get_auth_proxy_settings()
        client = self.client(settings, settings["password"], settings["username"])
        d = client.get_page(self.base + "simpleresource")
        # the seed's tests expected twisted.web.error.Error: that still holds
        self.assertFailure(d, error.Error)
        return d.addCallback(lambda exc: self.assertIsInstance(exc, ProxyAuthenticationError))

    @defer.inlineCallbacks
    def test_basic_port_without_credentials(self):
        client = self.client(self.get_auth_proxy_settings())
        exc = yield self.assertFailure(client.get_page(self.base + "simpleresource"),
                                       ProxyAuthenticationError)
        self.assertEqual(b"407", exc.status)
        self.assertIn("Basic", exc.schemes)

    @defer.inlineCallbacks
    def test_ldap_port_with_a_domain_user(self):
        config = load_config()
        bob = next(u for u in config.users if u.in_domain and not u.in_htpasswd
                   and not u.service)
        client = self.client(self.get_endpoints().proxy["ldap"].to_json(), bob.name, bob.password)
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.base + "simpleresource")))

    @defer.inlineCallbacks
    def test_origin_404_and_401_are_origin_errors(self):
        client = self.auth_client()
        for path, status in (("throwerror", 404), ("unauthorized", 401)):
            exc = yield self.assertFailure(client.get_page(self.base + path), OriginError)
            self.assertEqual(status, exc.code)

    @defer.inlineCallbacks
    def test_proxy_authorization_never_reaches_the_origin(self):
        client = self.auth_client()
        yield client.get_page(self.base + "simpleresource")   # credentials now pre-emptive
        seen = json.loads((yield client.get_page(self.base + "headers")))
        self.assertEqual("GET", seen["method"])
        self.assertNotIn("proxy-authorization", seen["headers"])

    @defer.inlineCallbacks
    def test_redirect_is_followed(self):
        client = self.client(self.get_nonauth_proxy_settings())
        body = yield client.get_page(self.base + "redirect?to=/simpleresource")
        self.assertEqual(SAMPLE_RESOURCE, body)

    @defer.inlineCallbacks
    def test_in_process_server_through_the_proxy(self):
        endpoints = self.get_endpoints()
        http, https = host_server_ports(endpoints)
        server = MockWebServer(endpoints.host_interface, port=http, https_port=https)
        self.addCleanup(release_port, https)
        self.addCleanup(release_port, http)
        self.addCleanup(server.stop)
        url = server.get_url() if self.scheme == "http" else server.get_https_url()
        settings = self.get_auth_proxy_settings()
        client = self.client(settings, settings["username"], settings["password"],
                             trust_root=server.certificate.trust_root())
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(url + "simpleresource")))

    @defer.inlineCallbacks
    def test_keep_alive_connection_is_torn_down_cleanly(self):
        client = self.auth_client()
        yield client.get_page(self.base + "simpleresource")
        yield client.get_page(self.base + "large?bytes=300000")
        self.assertEqual(1, len(client.agent.pool), "squid did not keep the connection")
        yield client.shutdown()
        self.assertEqual(0, len(client.agent.pool))

    def test_proxy_down_is_a_clear_error(self):
        client = self.client({"host": "127.0.0.1", "port": 1})
        d = self.assertFailure(client.get_page(self.base + "simpleresource"),
                               ProxyUnreachableError)
        return d.addCallback(lambda exc: self.assertIn("make lab-up", str(exc)))


class HTTPProxyClientTest(ProxyClientMixin, SquidTestCase):
    scheme = "http"


class HTTPSProxyClientTest(ProxyClientMixin, SquidTestCase):
    scheme = "https"

    @defer.inlineCallbacks
    def test_connect_outside_the_lab_is_refused_with_403(self):
        client = self.client(self.get_nonauth_proxy_settings())
        exc = yield self.assertFailure(client.get_page("https://example.com/"),
                                       ProxyForbiddenError)
        self.assertEqual(403, exc.code)

    @defer.inlineCallbacks
    def test_wrong_certificate_is_refused(self):
        other = MockWebServer("127.0.0.1")          # a CA the lab web was not signed by
        self.addCleanup(other.stop)
        client = self.client(self.get_nonauth_proxy_settings(),
                             trust_root=other.certificate.trust_root())
        yield self.assertFailure(client.get_page(self.base + "simpleresource"), OriginTLSError)


class TimeoutTest(SquidTestCase):
    @defer.inlineCallbacks
    def test_slow_origin_times_out_and_leaves_the_reactor_clean(self):
        from lab.proxy import RequestTimeoutError

        settings = self.get_nonauth_proxy_settings()
        client = ProxyWebClient(settings["host"], settings["port"])
        self.addCleanup(client.shutdown)
        url = self.get_endpoints().web.proxy_url + "slow?seconds=10"
        exc = yield self.assertFailure(client.get_page(url, timeout=0.5), RequestTimeoutError)
        self.assertIn("within 0.5 s", str(exc))
