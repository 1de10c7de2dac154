"""SOCKS5 from Twisted (`lab.proxy.SOCKSAgent`, `SOCKS5Endpoint`) against the in-process
SOCKS5 server of tests/socks_fakes.py: authentication, remote names, refusals
(REP codes), hostile servers. Every failure is a `lab.proxy` error."""

import socket

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, reactor

from lab.mockweb import SAMPLE_RESOURCE, MockWebServer
from lab.proxy import (
    Credentials,
    ProxyAgent,
    ProxyAuthenticationError,
    ProxyConnectionLostError,
    ProxyProtocolError,
    ProxyTunnelError,
    ProxyUnreachableError,
    ProxyWebClient,
    SOCKS5Endpoint,
    SOCKSAgent,
    SOCKSConnectError,
)
from tests.socks_fakes import SOCKS_PASSWORD, SOCKS_USER

pytest_plugins = ["tests.socks_fakes", "tests.proxy_fakes"]

USERS = {SOCKS_USER: SOCKS_PASSWORD}
GOOD = Credentials(SOCKS_USER, SOCKS_PASSWORD)


@pytest.fixture
def origin():
    """The mock web server, reachable by the name `origin.test` only through SOCKS."""
    server = pytest_twisted.blockon(MockWebServer.start("127.0.0.1", host="origin.test"))
    yield server
    pytest_twisted.blockon(server.stop())


@pytest.fixture
def socks_client(origin):
    made = []

    def make(proxy, credentials=GOOD, port=None):
        agent = SOCKSAgent(reactor, "127.0.0.1", port or proxy.port, credentials,
                           trust_root=origin.certificate.trust_root(), answer_timeout=5)
        client = ProxyWebClient(agent=agent, reactor=reactor)
        made.append(client)
        return client

    yield make
    for client in made:
        pytest_twisted.blockon(client.shutdown())


@pytest_twisted.inlineCallbacks
def test_http_and_https_with_username_password_and_remote_names(make_socks, socks_client,
                                                                origin):
    proxy = yield make_socks(USERS)
    client = socks_client(proxy)
    for url in (origin.get_url(), origin.get_https_url()):
        assert SAMPLE_RESOURCE == (yield client.get_page(url + "simpleresource"))
    assert [(3, "origin.test")] == sorted({(a, h) for a, h, _ in proxy.requests})
    assert proxy.offered[0] == [0, 2] and proxy.logins[0] == SOCKS_USER


@pytest_twisted.inlineCallbacks
def test_keep_alive_reuses_the_socks_connection(make_socks, socks_client, origin):
    proxy = yield make_socks(USERS)
    client = socks_client(proxy)
    for _ in range(3):
        yield client.get_page(origin.get_url() + "simpleresource")
    assert len(proxy.requests) == 1


def _open_to(port: int) -> list:
    """This process's TCP connections to 127.0.0.1:`port` the reactor still watches."""
    from twisted.internet import tcp

    return [s for s in set(reactor.getReaders()) | set(reactor.getWriters())
            if isinstance(s, tcp.Client) and s.getPeer().port == port]


@pytest_twisted.inlineCallbacks
def test_close_closes_every_connection_promptly(make_socks, socks_client, origin):
    """Twisted's pool keeps 2 idle connections per origin and closes the rest without
    waiting; a polite TLS close waits for the peer's close_notify. close() must leave
    nothing open, and promptly, even when the peer no longer answers (relays paused)."""
    proxy = yield make_socks(USERS)
    client = socks_client(proxy)
    for base in (origin.get_url(), origin.get_https_url()):
        pages = [client.get_page(base + "simpleresource") for _ in range(10)]
        assert [SAMPLE_RESOURCE] * 10 == (yield defer.gatherResults(pages))
    for relay in proxy.relays:
        relay.transport.pauseProducing()        # nothing more from the origin
    try:
        yield client.shutdown().addTimeout(5, reactor)
        assert [] == _open_to(proxy.port)
    finally:
        for relay in proxy.relays:
            relay.transport.resumeProducing()


@pytest_twisted.inlineCallbacks
def test_ipv4_literal_is_sent_as_an_address(make_socks, socks_client, origin):
    proxy = yield make_socks()
    client = socks_client(proxy, credentials=None)
    port = origin.get_url().rsplit(":", 1)[1].strip("/")
    assert SAMPLE_RESOURCE == (yield client.get_page(f"http://127.0.0.1:{port}/simpleresource"))
    assert proxy.requests == [(1, "127.0.0.1", int(port))]
    assert proxy.offered == [[0]]


@pytest_twisted.inlineCallbacks
def test_wrong_password_is_an_authentication_error_without_the_password(make_socks,
                                                                       socks_client, origin):
    proxy = yield make_socks(USERS)
    client = socks_client(proxy, Credentials(SOCKS_USER, "Wrong-Pass-99"))
    with pytest.raises(ProxyAuthenticationError, match="refused the user name") as info:
        yield client.get_page(origin.get_url())
    assert "Wrong-Pass-99" not in str(info.value) and "Wrong-Pass-99" not in repr(client)


@pytest_twisted.inlineCallbacks
def test_no_credentials_when_the_server_requires_them(make_socks, socks_client, origin):
    proxy = yield make_socks(USERS)
    client = socks_client(proxy, credentials=None)
    with pytest.raises(ProxyAuthenticationError, match="requires credentials") as info:
        yield client.get_page(origin.get_url())
    assert info.value.schemes == ("username/password",)
    assert proxy.offered == [[0]]


@pytest.mark.parametrize("mode,reply,meaning", [
    ("reply-1", 1, "general SOCKS server failure"),
    ("reply-2", 2, "connection not allowed by ruleset"),
    ("reply-5", 5, "connection refused"),
    ("reply-7", 7, "command not supported"),
    ("reply-9", 9, "unassigned reply code"),
])
@pytest_twisted.inlineCallbacks
def test_connect_refused_names_the_reply(make_socks, socks_client, origin, mode, reply,
                                         meaning):
    proxy = yield make_socks(USERS, mode)
    client = socks_client(proxy)
    with pytest.raises(SOCKSConnectError) as info:
        yield client.get_page(origin.get_https_url())
    assert (info.value.reply, info.value.meaning, info.value.code) == (reply, meaning, None)
    assert f"{meaning} (REP {reply})" in str(info.value)
    assert "origin.test" in str(info.value)
    assert isinstance(info.value, ProxyTunnelError)


@pytest_twisted.inlineCallbacks
def test_unknown_name_and_outside_address_are_refused_by_the_server(make_socks, socks_client):
    proxy = yield make_socks(USERS)
    client = socks_client(proxy)
    with pytest.raises(SOCKSConnectError, match="host unreachable"):
        yield client.get_page("http://nowhere.test/")
    with pytest.raises(SOCKSConnectError, match="not allowed by ruleset"):
        yield client.get_page("http://192.0.2.1/")


@pytest.mark.parametrize("mode,error,text", [
    ("close-after-greeting", ProxyConnectionLostError, "during the greeting"),
    ("close-before-reply", ProxyConnectionLostError, "during CONNECT"),
    ("garbage", ProxyProtocolError, "not a SOCKS5 proxy: it answered the greeting with b'HTTP"),
    ("choose-gssapi", ProxyProtocolError, "chose method 0x01, which was not offered"),
])
@pytest_twisted.inlineCallbacks
def test_hostile_servers(make_socks, socks_client, origin, mode, error, text):
    proxy = yield make_socks(USERS, mode)
    client = socks_client(proxy)
    with pytest.raises(error, match=text.replace("(", r"\(")):
        yield client.get_page(origin.get_url())


@pytest_twisted.inlineCallbacks
def test_nothing_listening(socks_client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = socks_client(None, port=port)
    with pytest.raises(ProxyUnreachableError, match=f"127.0.0.1:{port}"):
        yield client.get_page("http://origin.test/")


@pytest_twisted.inlineCallbacks
def test_endpoint_carries_an_http_proxy_agent(make_socks, make_proxy, clients):
    """`SOCKS5Endpoint` as `ProxyAgent`'s endpoint: an HTTP proxy reached through
    SOCKS (the proxy's name `localhost` resolved by the SOCKS server)."""
    socks = yield make_socks(USERS)
    http_proxy = yield make_proxy()
    to_socks = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", socks.port)
    endpoint = SOCKS5Endpoint(reactor, to_socks, "localhost", http_proxy.port, GOOD)
    agent = ProxyAgent(reactor, "localhost", http_proxy.port,
                       Credentials("alice", "Pw-1234"), endpoint=endpoint)
    client = ProxyWebClient(agent=agent, reactor=reactor)
    try:
        assert b"proxied http://origin.test/x" == (yield client.get_page("http://origin.test/x"))
    finally:
        yield client.shutdown()
    assert socks.requests == [(3, "localhost", http_proxy.port)]
