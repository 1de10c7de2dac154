"""`/proxy.pac` and `/wpad.dat` of lab.web.server under trial (runs on Twisted 22.4 too):
the PAC view is chosen by the client's address, served as
`application/x-ns-proxy-autoconfig`, and absent (404) when no PAC was given."""

from twisted.internet import defer
from twisted.trial import unittest

from lab.mockweb import MockWebServer, PacResource
from tests.trial.test_mockweb import fetch, header

HOST_VIEW = 'function FindProxyForURL(u, h) { return "PROXY 127.0.0.1:13128"; }\n'
LAB_VIEW = 'function FindProxyForURL(u, h) { return "PROXY proxy.ad.example.com:3128"; }\n'


class PacViewChoiceTests(unittest.TestCase):
    def test_lab_clients_get_the_lab_view_and_the_gateway_the_host_view(self):
        pac = PacResource(HOST_VIEW, LAB_VIEW, "172.29.53.0/24")
        self.assertEqual(LAB_VIEW, pac.text_for("172.29.53.12"))
        self.assertEqual(HOST_VIEW, pac.text_for("172.29.53.1"))      # published port
        self.assertEqual(HOST_VIEW, pac.text_for("127.0.0.1"))
        self.assertEqual(HOST_VIEW, pac.text_for("10.9.9.9"))
        self.assertEqual(HOST_VIEW, pac.text_for("/tmp/unix.sock"))

    def test_explicit_gateway_and_single_view(self):
        pac = PacResource(HOST_VIEW, LAB_VIEW, "10.77.0.0/24", gateway="10.77.0.254")
        self.assertEqual(LAB_VIEW, pac.text_for("10.77.0.1"))
        self.assertEqual(HOST_VIEW, pac.text_for("10.77.0.254"))
        self.assertEqual(HOST_VIEW, PacResource(HOST_VIEW).text_for("10.77.0.1"))

    def test_a_lab_view_needs_the_subnet(self):
        self.assertRaises(ValueError, PacResource, HOST_VIEW, LAB_VIEW)


class PacServedTests(unittest.TestCase):
    timeout = 20

    @defer.inlineCallbacks
    def serve(self, pac):
        server = yield MockWebServer.start("127.0.0.1", host="localhost", pac=pac)
        self.addCleanup(server.stop)
        return server

    @defer.inlineCallbacks
    def test_both_paths_with_the_pac_content_type(self):
        # 127.0.0.1 is in 127.0.0.0/8 and is not the gateway (127.0.0.2): a lab client
        server = yield self.serve(PacResource(HOST_VIEW, LAB_VIEW, "127.0.0.0/8", "127.0.0.2"))
        for path in ("proxy.pac", "wpad.dat"):
            response, body = yield fetch(server.get_url() + path)
            self.assertEqual((200, LAB_VIEW.encode()), (response.code, body), path)
            self.assertEqual("application/x-ns-proxy-autoconfig",
                             header(response, "content-type"))

    @defer.inlineCallbacks
    def test_a_client_through_the_gateway_gets_the_host_view(self):
        server = yield self.serve(PacResource(HOST_VIEW, LAB_VIEW, "127.0.0.0/8", "127.0.0.1"))
        response, body = yield fetch(server.get_url() + "wpad.dat")
        self.assertEqual(HOST_VIEW.encode(), body)

    @defer.inlineCallbacks
    def test_no_pac_no_pac_file(self):
        server = yield self.serve(None)
        for path in ("proxy.pac", "wpad.dat"):
            response, _ = yield fetch(server.get_url() + path)
            self.assertEqual(404, response.code, path)
