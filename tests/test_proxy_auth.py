"""The 407 state machine against an in-process Twisted proxy that counts requests."""

import base64

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web import resource, server

from lab.proxy import ProxyAuthenticationError, ProxyWebClient


class FakeProxy(resource.Resource):
    """Answers absolute-URI requests itself: 407 unless the right Basic credentials."""

    isLeaf = True

    def __init__(self, offered=(b'Basic realm="fake"',), user="alice", password="Pw-1234"):
        super().__init__()
        self.offered = list(offered)
        self.expected = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
        self.seen = []

    def render(self, request):
        auth = request.getHeader(b"proxy-authorization")
        self.seen.append(auth)
        if auth != self.expected:
            request.setResponseCode(407)
            request.responseHeaders.setRawHeaders(b"proxy-authenticate", self.offered)
            return b"auth needed"
        return b"proxied " + request.uri


@pytest.fixture
def fake_proxy(tidy_tcp_server):
    proxy = FakeProxy()
    site = server.Site(proxy)
    pytest_twisted.blockon(tidy_tcp_server.listen_server(lambda: site))
    proxy.port = tidy_tcp_server.listener.getHost().port
    return proxy


def client_for(proxy, user=None, password=None):
    return ProxyWebClient("127.0.0.1", proxy.port, user, password, reactor=reactor)


@pytest_twisted.inlineCallbacks
def test_answers_the_challenge_then_sends_credentials_preemptively(fake_proxy):
    client = client_for(fake_proxy, "alice", "Pw-1234")
    try:
        assert (yield client.get_page("http://origin.test/a")) == b"proxied http://origin.test/a"
        assert len(fake_proxy.seen) == 2 and fake_proxy.seen[0] is None
        yield client.get_page("http://origin.test/b")
        yield client.get_page("http://origin.test/c")
        assert len(fake_proxy.seen) == 4          # no 407 round trip after the first
        assert client.agent.challenges_seen == 1
    finally:
        yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_wrong_credentials_end_after_two_requests(fake_proxy):
    client = client_for(fake_proxy, "alice", "wrong")
    try:
        with pytest.raises(ProxyAuthenticationError) as info:
            yield client.get_page("http://origin.test/")
        assert len(fake_proxy.seen) == 2
        assert "refused the credentials" in str(info.value)
        assert "wrong" not in str(info.value) and info.value.schemes == ("Basic",)
    finally:
        yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_no_credentials_end_after_one_request(fake_proxy):
    client = client_for(fake_proxy)
    try:
        with pytest.raises(ProxyAuthenticationError, match="none were given"):
            yield client.get_page("http://origin.test/")
        assert len(fake_proxy.seen) == 1
    finally:
        yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_unanswerable_scheme_is_reported_with_what_was_offered(fake_proxy):
    fake_proxy.offered = [b'Digest realm="x", nonce="y"', b"Bearer"]
    client = client_for(fake_proxy, "alice", "Pw-1234")
    try:
        with pytest.raises(ProxyAuthenticationError) as info:
            yield client.get_page("http://origin.test/")
        assert info.value.schemes == ("Digest", "Bearer")
        assert len(fake_proxy.seen) == 1
    finally:
        yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_credentials_rejected_later_are_not_retried_forever(fake_proxy):
    client = client_for(fake_proxy, "alice", "Pw-1234")
    try:
        yield client.get_page("http://origin.test/")
        fake_proxy.expected = b"Basic changed"
        with pytest.raises(ProxyAuthenticationError):
            yield client.get_page("http://origin.test/")
        assert len(fake_proxy.seen) == 3
    finally:
        yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_agent_works_with_treq(fake_proxy):
    import treq

    from lab.proxy import Credentials, ProxyAgent

    agent = ProxyAgent(reactor, "127.0.0.1", fake_proxy.port, Credentials("alice", "Pw-1234"))
    try:
        response = yield treq.get("http://origin.test/t", agent=agent)
        assert (yield response.content()) == b"proxied http://origin.test/t"
    finally:
        yield agent.close()
