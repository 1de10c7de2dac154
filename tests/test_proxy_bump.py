"""A TLS-inspecting proxy re-signs the origin with its corporate CA: a client that does
not trust that CA gets an `OriginTLSError` naming the issuer, through an HTTP proxy
(CONNECT) and through SOCKS; trusting the corporate CA (alone, or with the origin's
own CA) makes the same requests work."""

import pytest
import pytest_twisted
from twisted.internet import reactor

from lab.mockweb import MockWebServer
from lab.proxy import (
    Credentials,
    OriginTLSError,
    ProxyWebClient,
    SOCKSAgent,
    load_trust_root,
)
from lab.tidy.tls import make_ca, make_issued
from tests.proxy_fakes import ORIGIN, PASSWORD, USER
from tests.socks_fakes import SOCKS_PASSWORD, SOCKS_USER

pytest_plugins = ["tests.proxy_fakes", "tests.socks_fakes"]

CORPORATE = make_ca("lab corporate CA (test)")
BUMPED = make_issued(CORPORATE, ("origin.test",), ())      # what squid's certgen makes


def _client(proxy, trust_root):
    return ProxyWebClient("127.0.0.1", proxy.port, USER, PASSWORD, trust_root=trust_root,
                          reactor=reactor)


@pytest_twisted.inlineCallbacks
def test_bumped_certificate_names_the_corporate_ca(make_proxy):
    proxy = yield make_proxy()
    proxy.origin_certificate = BUMPED
    client = _client(proxy, ORIGIN.trust_root())
    try:
        with pytest.raises(OriginTLSError) as info:
            yield client.get_page("https://origin.test/x")
    finally:
        yield client.shutdown()
    assert info.value.issuer == "lab corporate CA (test)"
    assert "issued by 'lab corporate CA (test)'" in str(info.value)
    assert "corporate_ca" in str(info.value)


@pytest_twisted.inlineCallbacks
def test_trusting_the_corporate_ca_accepts_the_bump(make_proxy, tmp_path):
    proxy = yield make_proxy()
    proxy.origin_certificate = BUMPED
    (tmp_path / "corp.pem").write_bytes(CORPORATE.cert_pem)
    (tmp_path / "web.pem").write_bytes(ORIGIN.cert_pem)
    for trust in (CORPORATE.trust_root(),
                  load_trust_root(tmp_path / "web.pem", tmp_path / "corp.pem")):
        client = _client(proxy, trust)
        try:
            assert b"origin /x" == (yield client.get_page("https://origin.test/x"))
        finally:
            yield client.shutdown()


@pytest_twisted.inlineCallbacks
def test_wrong_name_is_an_origin_tls_error_too(make_proxy):
    proxy = yield make_proxy()
    proxy.origin_certificate = make_issued(CORPORATE, ("elsewhere.test",), ())
    client = _client(proxy, CORPORATE.trust_root())
    try:
        with pytest.raises(OriginTLSError) as info:
            yield client.get_page("https://origin.test/x")
    finally:
        yield client.shutdown()
    assert info.value.issuer is None      # the issuer is trusted: the name is what failed


@pytest_twisted.inlineCallbacks
def test_bumped_origin_through_socks(make_socks):
    origin = yield MockWebServer.start("127.0.0.1", host="origin.test",
                                       certificate=make_issued(CORPORATE, ("origin.test",)))
    proxy = yield make_socks({SOCKS_USER: SOCKS_PASSWORD})
    agent = SOCKSAgent(reactor, "127.0.0.1", proxy.port,
                       Credentials(SOCKS_USER, SOCKS_PASSWORD), trust_root=ORIGIN.trust_root())
    client = ProxyWebClient(agent=agent, reactor=reactor)
    try:
        with pytest.raises(OriginTLSError, match="lab corporate CA") as info:
            yield client.get_page(origin.get_https_url())
        assert info.value.issuer == "lab corporate CA (test)"
    finally:
        yield client.shutdown()
        yield origin.stop()


def test_load_trust_root_refuses_a_file_without_certificates(tmp_path):
    (tmp_path / "empty.pem").write_text("nothing here\n")
    with pytest.raises(ValueError, match="no certificate"):
        load_trust_root(tmp_path / "empty.pem")
