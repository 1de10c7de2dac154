"""Proxies that are not the lab's: several schemes offered, garbage, silence and
floods. Every failure is a `lab.proxy` error that says what was wrong."""

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, reactor, task
from twisted.internet.testing import MemoryReactorClock

from lab.proxy import (
    Credentials,
    ProxyAuthenticationError,
    ProxyError,
    ProxyTunnelError,
    ProxyUnreachableError,
    ProxyWebClient,
    RequestTimeoutError,
)
from lab.proxy.errors import ProxyConnectionLostError, ProxyProtocolError
from lab.proxy.schemes import DEFAULT_SCHEMES
from lab.proxy.transport import ProxyTransportAgent
from lab.proxy.wire import HeadLimit
from tests.proxy_fakes import NTLM_USER, PASSWORD, USER, fake_negotiate

pytest_plugins = ["tests.proxy_fakes"]     # fixtures: make_proxy, clients, ntlm_users


@pytest.fixture
def no_kerberos(tmp_path, monkeypatch):
    """A machine where Kerberos cannot start: no realm, no ticket."""
    monkeypatch.setenv("KRB5_CONFIG", "/dev/null")
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'no-ticket'}")


def offered_schemes(proxy):
    return [(auth or b"").split(b" ")[0].decode() for _, _, auth in proxy.requests]


@pytest_twisted.inlineCallbacks
def test_negotiate_and_basic_without_kerberos_falls_back_to_basic(make_proxy, clients,
                                                                  no_kerberos):
    proxy = yield make_proxy([b"Negotiate", b'Basic realm="corp"'])
    client = clients(proxy)
    bodies = yield defer.gatherResults(
        [client.get_page(f"{s}://origin.test/x") for s in ("http", "https") * 5])
    assert len(bodies) == 10
    assert "Negotiate" not in offered_schemes(proxy)


@pytest_twisted.inlineCallbacks
def test_negotiate_alone_without_kerberos_says_why(make_proxy, clients, no_kerberos):
    proxy = yield make_proxy([b"Negotiate"])
    client = clients(proxy, None, None)
    with pytest.raises(ProxyAuthenticationError, match="lab ad kinit") as info:
        yield client.get_page("http://origin.test/x")
    assert info.value.schemes == ("Negotiate",)


@pytest.mark.parametrize("offered,chosen", [
    ([b'Basic realm="x"', b"NTLM", b"Negotiate"], "Negotiate"),
    ([b'Basic realm="x"', b"NTLM"], "NTLM"),
    ([b'Basic realm="x"'], "Basic"),
])
@pytest_twisted.inlineCallbacks
def test_scheme_preference_is_a_browsers(make_proxy, clients, offered, chosen):
    proxy = yield make_proxy(offered)
    client = clients(proxy, NTLM_USER if chosen == "NTLM" else USER,
                     schemes={**DEFAULT_SCHEMES, "negotiate": fake_negotiate})
    yield client.get_page("http://origin.test/x")
    assert offered_schemes(proxy)[1] == chosen


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_garbage_ntlm_challenge(make_proxy, clients, scheme):
    proxy = yield make_proxy([b"NTLM"], mode="garbage-ntlm")
    client = clients(proxy, NTLM_USER)
    with pytest.raises(ProxyProtocolError, match="NTLM challenge is malformed"):
        yield client.get_page(f"{scheme}://origin.test/x")


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_garbage_status_line(make_proxy, clients, scheme):
    proxy = yield make_proxy(mode="garbage-status")
    client = clients(proxy)
    with pytest.raises(ProxyProtocolError, match="HELLO garbage") as info:
        yield client.get_page(f"{scheme}://origin.test/x")
    assert info.value.code is None and info.value.status is None   # no invented 502


@pytest_twisted.inlineCallbacks
def test_close_right_after_connect_200(make_proxy, clients):
    proxy = yield make_proxy([], mode="close-after-connect")
    client = clients(proxy)
    with pytest.raises(ProxyConnectionLostError):
        yield client.get_page("https://origin.test/x")


@pytest.mark.parametrize("mode,match", [("endless-headers", "head over 65536 bytes"),
                                        ("long-line", "header line over 8192 bytes")])
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_oversized_heads_are_refused(make_proxy, clients, mode, match, scheme):
    proxy = yield make_proxy([], mode=mode)
    proxy.lost = defer.Deferred()
    client = clients(proxy)
    with pytest.raises(ProxyProtocolError, match=match):
        yield client.get_page(f"{scheme}://origin.test/x", timeout=10)
    yield proxy.lost                # the client hung up: the flood is not read to a timeout


@pytest.mark.parametrize("url,match", [
    (b"https://origin.test/x", "did not answer CONNECT within 5"),
    (b"http://origin.test/x", "no response head for GET http://origin.test/x within 5"),
])
@pytest_twisted.inlineCallbacks
def test_silent_proxy_times_out(make_proxy, url, match):
    proxy = yield make_proxy([], mode="silent")
    proxy.on_request = defer.Deferred()
    clock = task.Clock()
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.port)
    agent = ProxyTransportAgent(clock, endpoint, answer_timeout=5)
    try:
        pending = agent.request(b"GET", url)
        yield proxy.on_request
        clock.advance(4.9)
        assert not pending.called
        clock.advance(0.1)
        with pytest.raises(RequestTimeoutError, match=match):
            yield pending
    finally:
        yield agent.close()


@pytest_twisted.inlineCallbacks
def test_connect_status_is_the_proxys_own(make_proxy, clients):
    proxy = yield make_proxy([b'Basic realm="x"'])
    client = clients(proxy, None, None)
    with pytest.raises(ProxyAuthenticationError, match="none were given"):
        yield client.get_page("https://origin.test/x")


@pytest_twisted.inlineCallbacks
def test_unreachable_proxy():
    client = ProxyWebClient("127.0.0.1", 1, "u", "p", reactor=reactor)
    try:
        with pytest.raises(ProxyUnreachableError) as info:
            yield client.get_page("http://origin.test/")
        assert isinstance(info.value, ProxyError) and isinstance(info.value, ConnectionError)
    finally:
        yield client.shutdown()


def test_error_hierarchy_keeps_old_except_clauses_working():
    assert issubclass(ProxyUnreachableError, ConnectionError)
    assert issubclass(RequestTimeoutError, defer.TimeoutError)
    for cls in (ProxyUnreachableError, RequestTimeoutError, ProxyTunnelError,
                ProxyProtocolError, ProxyConnectionLostError, ProxyAuthenticationError):
        assert issubclass(cls, ProxyError)


def test_credentials_stay_out_of_reprs():
    client = ProxyWebClient("p", 1, USER, PASSWORD, reactor=MemoryReactorClock())
    assert PASSWORD not in repr(client) + repr(client.agent) + repr(client.agent.auth)
    assert PASSWORD not in repr(Credentials(USER, PASSWORD))


@pytest.mark.parametrize("chunks,end", [
    ([b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"], 0),
    ([b"HTTP/1.1 200 OK\r\nA: b\r", b"\n\r", b"\nbody"], 2),
    ([b"HTTP/1.1 200 OK\n\nbody"], 0),
])
def test_head_limit_finds_the_end_of_the_head(chunks, end):
    limit = HeadLimit()
    ends = [limit.feed(chunk) for chunk in chunks]
    assert ends[end] is not None and chunks[end][ends[end]:] == b"body"
