"""lab.proxy through the AD-backed ports (Negotiate, NTLM, group), under trial."""

import os
import tempfile

from twisted.internet import defer, reactor, ssl

from lab.clients.ad import kinit
from lab.mockweb import SAMPLE_RESOURCE
from lab.proxy import ProxyAuthenticationError, ProxyForbiddenError, ProxyWebClient
from lab.proxy.agent import ProxyAgent
from lab.proxy.challenges import Credentials
from lab.proxy.schemes import DEFAULT_SCHEMES
from lab.scenarios.scenario import negotiate_proxy_name
from lab.testcases import SquidTestCase


class ADProxyClientMixin:
    scheme = "http"

    def setUp(self):
        super().setUp()
        web = self.get_endpoints().web
        self.url = (web.proxy_url if self.scheme == "http"
                    else web.https_proxy_url) + "simpleresource"
        with open(web.ca_cert, "rb") as pem:
            self.trust_root = ssl.Certificate.loadPEM(pem.read())

    def client(self, port, username=None, password=None):
        proxy = self.get_endpoints().proxy[port]
        client = ProxyWebClient(proxy.host, proxy.port, username, password,
                                proxy_address=proxy.address, trust_root=self.trust_root)
        self.addCleanup(client.shutdown)
        return client

    def use_environment(self, values):
        """Set real environment variables (Kerberos reads them in C) for this test."""
        for name, value in values.items():
            old = os.environ.get(name)
            os.environ[name] = value
            self.addCleanup(os.environ.pop if old is None else os.environ.__setitem__,
                            *((name,) if old is None else (name, old)))

    def with_ticket(self):
        proxy, dc = self.get_endpoints().proxy["negotiate"], self.get_endpoints().dc
        directory = tempfile.mkdtemp(prefix="lab-test-krb5-")
        session = kinit(proxy.username, proxy.password, dc.realm,
                        dc.kerberos.host, dc.kerberos.port, directory=directory)
        self.use_environment(session.env)

    @defer.inlineCallbacks
    def test_negotiate_from_the_ticket_cache(self):
        self.with_ticket()
        client = self.client("negotiate")
        for _ in range(3):
            self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))
        self.assertEqual(1, client.agent.challenges_seen)   # then pre-emptive

    @defer.inlineCallbacks
    def test_negotiate_without_a_ticket(self):
        directory = tempfile.mkdtemp(prefix="lab-test-krb5-")
        self.use_environment({"KRB5CCNAME": f"FILE:{directory}/none"})
        client = self.client("negotiate")
        exc = yield self.assertFailure(client.get_page(self.url), ProxyAuthenticationError)
        self.assertIn("lab ad kinit", str(exc))

    @defer.inlineCallbacks
    def test_ntlm(self):
        proxy, workgroup = self.get_endpoints().proxy["ntlm"], self.get_endpoints().dc.workgroup
        client = self.client("ntlm", f"{workgroup}\\{proxy.username}", proxy.password)
        for _ in range(3):
            self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))

    @defer.inlineCallbacks
    def test_ntlm_wrong_password(self):
        proxy = self.get_endpoints().proxy["ntlm"]
        client = self.client("ntlm", proxy.username, "Not-The-Password-1")
        exc = yield self.assertFailure(client.get_page(self.url), ProxyAuthenticationError)
        self.assertEqual(("NTLM",), exc.schemes)
        self.assertNotIn("Not-The-Password-1", str(exc))

    @defer.inlineCallbacks
    def test_group_member(self):
        proxy = self.get_endpoints().proxy["group"]
        client = self.client("group", proxy.username, proxy.password)
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))

    @defer.inlineCallbacks
    def test_group_non_member_is_forbidden_not_unauthenticated(self):
        proxy = self.get_endpoints().proxy["group"]
        client = self.client("group", proxy.denied_username, proxy.denied_password)
        exc = yield self.assertFailure(client.get_page(self.url), ProxyForbiddenError)
        self.assertEqual(403, exc.code)


    # -- the company port: Negotiate, NTLM and Basic offered together ----------------

    def corp_client(self, username=None, password=None, schemes=None):
        """A client of the `corp` port, calling it by the name its SPN has (localhost)."""
        endpoints = self.get_endpoints()
        proxy = endpoints.proxy["corp"]
        credentials = Credentials(username, password) if username is not None else None
        agent = ProxyAgent(reactor, negotiate_proxy_name(endpoints), proxy.port, credentials,
                           proxy_address=proxy.host, trust_root=self.trust_root,
                           **({"schemes": schemes} if schemes else {}))
        client = ProxyWebClient(agent=agent)
        self.addCleanup(client.shutdown)
        return client

    def without_ticket(self):
        directory = tempfile.mkdtemp(prefix="lab-test-krb5-")
        self.use_environment({"KRB5CCNAME": f"FILE:{directory}/none"})

    @defer.inlineCallbacks
    def test_corp_picks_negotiate_with_a_ticket(self):
        self.with_ticket()
        client = self.corp_client()
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))
        self.assertEqual("negotiate", client.agent.auth.memory.scheme)

    @defer.inlineCallbacks
    def test_corp_moves_on_to_ntlm_without_a_ticket(self):
        self.without_ticket()
        proxy, workgroup = self.get_endpoints().proxy["corp"], self.get_endpoints().dc.workgroup
        client = self.corp_client(f"{workgroup}\\{proxy.username}", proxy.password)
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))
        self.assertEqual("ntlm", client.agent.auth.memory.scheme)

    @defer.inlineCallbacks
    def test_corp_basic_for_a_client_that_knows_only_basic(self):
        proxy = self.get_endpoints().proxy["corp"]
        client = self.corp_client(f"{proxy.username}@{self.get_endpoints().dc.realm}",
                                  proxy.password, schemes={"basic": DEFAULT_SCHEMES["basic"]})
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))
        self.assertEqual("basic", client.agent.auth.memory.scheme)

    @defer.inlineCallbacks
    def test_corp_called_by_a_name_without_an_spn_falls_back_to_ntlm(self):
        """negotiate-alias: a ticket, but none to be had for the name the proxy is called
        by (its address): Negotiate cannot start, NTLM with the password must follow."""
        self.with_ticket()
        endpoints = self.get_endpoints()
        proxy = endpoints.proxy["corp"]
        client = self.client("corp", f"{endpoints.dc.workgroup}\\{proxy.username}",
                             proxy.password)
        self.assertEqual(SAMPLE_RESOURCE, (yield client.get_page(self.url)))
        self.assertEqual("ntlm", client.agent.auth.memory.scheme)

    @defer.inlineCallbacks
    def test_corp_twenty_ntlm_requests_at_once_through_one_agent(self):
        self.without_ticket()
        proxy, workgroup = self.get_endpoints().proxy["corp"], self.get_endpoints().dc.workgroup
        client = self.corp_client(f"{workgroup}\\{proxy.username}", proxy.password)
        pages = yield defer.gatherResults([client.get_page(self.url) for _ in range(20)],
                                          consumeErrors=True)
        self.assertEqual([SAMPLE_RESOURCE] * 20, pages)
        self.assertEqual("ntlm", client.agent.auth.memory.scheme)


class HTTPADProxyClientTest(ADProxyClientMixin, SquidTestCase):
    scheme = "http"


class HTTPSADProxyClientTest(ADProxyClientMixin, SquidTestCase):
    scheme = "https"
