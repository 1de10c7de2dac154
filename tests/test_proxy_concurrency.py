"""Many requests at once through one client, against an in-process proxy that
authenticates as squid does: Basic, NTLM (legs bound to a connection), a fake
Negotiate; over plain HTTP and CONNECT."""

import base64

import pytest
import pytest_twisted
from twisted.internet import defer

from lab.proxy import ProxyAuthenticationError
from lab.proxy.schemes import DEFAULT_SCHEMES
from tests.proxy_fakes import NTLM_USER, OFFERS, PASSWORD, USER, fake_negotiate

pytest_plugins = ["tests.proxy_fakes"]     # fixtures: make_proxy, clients, ntlm_users


def with_fake_negotiate():
    return {**DEFAULT_SCHEMES, "negotiate": fake_negotiate}


def url_for(scheme: str, n: int) -> str:
    return f"{scheme}://origin.test/r{n}"


def expected(scheme: str, n: int) -> bytes:
    return (b"proxied http://origin.test/r%d" % n) if scheme == "http" else (b"origin /r%d" % n)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("auth", ["basic", "ntlm", "negotiate"])
@pytest_twisted.inlineCallbacks
def test_twenty_concurrent_first_requests_all_succeed(make_proxy, clients, auth, scheme):
    proxy = yield make_proxy(OFFERS[auth])
    user = NTLM_USER if auth == "ntlm" else USER
    client = clients(proxy, user, schemes=with_fake_negotiate())
    bodies = yield defer.gatherResults(
        [client.get_page(url_for(scheme, n)) for n in range(20)], consumeErrors=True)
    assert bodies == [expected(scheme, n) for n in range(20)]
    # and again, now that the agent knows the scheme: no request fails either
    bodies = yield defer.gatherResults(
        [client.get_page(url_for(scheme, n)) for n in range(20)], consumeErrors=True)
    assert bodies == [expected(scheme, n) for n in range(20)]


@pytest_twisted.inlineCallbacks
def test_ntlm_connections_are_reused_once_authenticated(make_proxy, clients):
    proxy = yield make_proxy(OFFERS["ntlm"])
    client = clients(proxy, NTLM_USER)
    yield defer.gatherResults([client.get_page(url_for("http", n)) for n in range(5)])
    handshakes = proxy.handshakes
    assert handshakes == 5 and proxy.connections == 5
    for n in range(10):               # one at a time: an authenticated connection each
        yield client.get_page(url_for("http", n))
    yield defer.gatherResults([client.get_page(url_for("http", n)) for n in range(5)])
    assert proxy.handshakes == handshakes and proxy.connections == 5


@pytest_twisted.inlineCallbacks
def test_basic_is_preemptive_after_the_first_success(make_proxy, clients):
    proxy = yield make_proxy()
    client = clients(proxy)
    yield client.get_page(url_for("http", 0))
    assert proxy.challenged == 1
    yield defer.gatherResults([client.get_page(url_for(s, n)) for n in range(10)
                               for s in ("http", "https")])
    assert proxy.challenged == 1


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_ntlm_recovers_after_a_refusal(make_proxy, clients, scheme):
    proxy = yield make_proxy(OFFERS["ntlm"])
    client = clients(proxy, NTLM_USER)
    proxy.refuse_next = 1
    with pytest.raises(ProxyAuthenticationError, match="refused the credentials") as info:
        yield client.get_page(url_for(scheme, 0))
    assert info.value.schemes == ("NTLM",)
    for n in range(3):                  # the next requests start clean, and succeed
        assert (yield client.get_page(url_for(scheme, n))) == expected(scheme, n)
    assert (yield defer.gatherResults(
        [client.get_page(url_for(scheme, n)) for n in range(10)])) == [
        expected(scheme, n) for n in range(10)]


@pytest_twisted.inlineCallbacks
def test_wrong_ntlm_password_fails_every_concurrent_request_cleanly(make_proxy, clients):
    proxy = yield make_proxy(OFFERS["ntlm"])
    client = clients(proxy, NTLM_USER, "Wrong-Password-1")
    results = yield defer.DeferredList(
        [client.get_page(url_for("http", n)) for n in range(5)], consumeErrors=True)
    for ok, failure in results:
        assert not ok and failure.check(ProxyAuthenticationError)
        assert "Wrong-Password-1" not in str(failure.value)
    assert client.agent.pool.idle(b"http-proxy") == 0    # nothing half-authenticated kept


@pytest_twisted.inlineCallbacks
def test_a_wrong_basic_password_does_not_spoil_other_clients_or_loop(make_proxy, clients):
    proxy = yield make_proxy()
    wrong = clients(proxy, USER, "nope")
    right = clients(proxy)
    results = yield defer.DeferredList(
        [c.get_page(url_for("http", n)) for n in range(5) for c in (wrong, right)],
        consumeErrors=True)
    outcomes = [ok for ok, _ in results]
    assert outcomes == [False, True] * 5
    # Each page sends its credential exactly once (the wrong one is not retried), after a
    # 407 or, once the client knows the proxy wants Basic, at once: how many go without
    # depends on which answers arrive first, so only that bound is fixed.
    basic = {password: b"Basic " + base64.b64encode(f"{USER}:{password}".encode())
             for password in (PASSWORD, "nope")}
    for n in range(5):
        sent = [auth for _, target, auth in proxy.requests
                if target == url_for("http", n).encode()]
        assert sent.count(basic[PASSWORD]) == sent.count(basic["nope"]) == 1, sent
        assert sent.count(None) <= 2 and len(sent) == 2 + sent.count(None), sent


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
@pytest_twisted.inlineCallbacks
def test_a_kept_alive_connection_the_proxy_closed_is_replaced(make_proxy, clients, auth):
    proxy = yield make_proxy(OFFERS[auth])
    client = clients(proxy, NTLM_USER if auth == "ntlm" else USER)
    yield client.get_page(url_for("http", 0))
    for conn in proxy.open:          # the proxy's idle timeout, as the request goes out
        conn.transport.loseConnection()
    assert (yield client.get_page(url_for("http", 1))) == expected("http", 1)
