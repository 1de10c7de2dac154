"""lab.tidy.tls: combined PEM files, and a server presenting its whole chain."""

from OpenSSL import SSL
from twisted.internet import defer, reactor, ssl
from twisted.trial import unittest
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    ResponseNeverReceived,
    readBody,
)

from lab.mockweb import SAMPLE_RESOURCE, MockWebServer
from lab.tidy.tls import SelfSigned, make_ca, make_issued, make_self_signed


class CombinedPemTests(unittest.TestCase):
    def test_old_form_key_then_one_certificate(self):
        cert = make_self_signed()
        read = SelfSigned.from_combined_pem(cert.key_pem + cert.cert_pem)
        self.assertEqual(cert, read)
        self.assertEqual(cert.cert_pem, read.ca_pem)

    def test_key_leaf_ca(self):
        ca = make_ca()
        leaf = make_issued(ca)
        read = SelfSigned.from_combined_pem(leaf.key_pem + leaf.cert_pem + ca.cert_pem)
        self.assertEqual((leaf.cert_pem, leaf.key_pem, ca.cert_pem),
                         (read.cert_pem, read.key_pem, read.chain_pem))
        self.assertEqual(ca.cert_pem, read.ca_pem)
        self.assertEqual(read, SelfSigned.from_combined_pem(read.combined_pem))

    def test_missing_parts_are_errors(self):
        cert = make_self_signed()
        self.assertRaises(ValueError, SelfSigned.from_combined_pem, cert.key_pem)
        self.assertRaises(ValueError, SelfSigned.from_combined_pem, cert.cert_pem)


class ChainTests(unittest.TestCase):
    """Root -> intermediate -> leaf; the client trusts the root only, so it can
    verify only if the server sends the intermediate."""

    timeout = 20

    def setUp(self):
        self.root = make_ca("lab test root")
        intermediate = make_ca("lab test intermediate", issuer=self.root)
        self.leaf = make_issued(intermediate, ("localhost",), ("127.0.0.1",))

    @defer.inlineCallbacks
    def fetch_simpleresource(self, certificate):
        web = yield MockWebServer.start("127.0.0.1", host="localhost", certificate=certificate)
        self.addCleanup(web.stop)
        trust = ssl.Certificate.loadPEM(self.root.cert_pem)
        agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trustRoot=trust))
        response = yield agent.request(b"GET", (web.get_https_url() + "simpleresource").encode())
        return (yield readBody(response))

    @defer.inlineCallbacks
    def test_full_chain_verifies_against_the_root(self):
        certificate = SelfSigned.from_combined_pem(self.leaf.combined_pem)
        self.assertEqual(self.root.cert_pem, certificate.ca_pem)
        self.assertEqual(SAMPLE_RESOURCE, (yield self.fetch_simpleresource(certificate)))

    @defer.inlineCallbacks
    def test_leaf_alone_does_not_verify(self):
        """The control: the same leaf without its chain is refused, so the test above
        passes because the chain is sent."""
        leaf_only = SelfSigned(self.leaf.cert_pem, self.leaf.key_pem)
        exc = yield self.assertFailure(self.fetch_simpleresource(leaf_only),
                                       ResponseNeverReceived)
        self.assertTrue(any(reason.check(SSL.Error) for reason in exc.reasons), exc.reasons)
