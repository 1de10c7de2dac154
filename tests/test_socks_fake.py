"""The SOCKS5 fake (tests/socks_fakes.py) driven by clients nobody here wrote: pysocks
(in a thread: it blocks) and curl `--socks5-hostname` (a process). If they agree
with it, our client's tests against it mean something."""

import os
import shutil

import pytest
import pytest_twisted
import socks  # PySocks, in the test extra: a SOCKS client nobody here wrote
from twisted.internet import reactor, threads, utils

from lab.mockweb import SAMPLE_RESOURCE, MockWebServer
from tests.socks_fakes import SOCKS_PASSWORD, SOCKS_USER

pytest_plugins = ["tests.socks_fakes"]
USERS = {SOCKS_USER: SOCKS_PASSWORD}


@pytest.fixture
def origin():
    server = pytest_twisted.blockon(MockWebServer.start("127.0.0.1", host="origin.test"))
    yield server
    pytest_twisted.blockon(server.stop())


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].strip("/"))


def _pysocks_get(proxy_port: int, host: str, port: int, username=None, password=None) -> bytes:
    """GET /simpleresource through the proxy with pysocks, names resolved remotely."""
    conn = socks.socksocket()
    conn.settimeout(10)          # bounded: a broken fake fails the test, never hangs it
    conn.set_proxy(socks.SOCKS5, "127.0.0.1", proxy_port, rdns=True, username=username,
                   password=password)
    try:
        conn.connect((host, port))
        conn.sendall(b"GET /simpleresource HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        return data
    finally:
        conn.close()


@pytest_twisted.inlineCallbacks
def test_pysocks_with_password_and_a_remote_name(make_socks, origin):
    proxy = yield make_socks(USERS)
    answer = yield threads.deferToThread(_pysocks_get, proxy.port, "origin.test",
                                         _port(origin.get_url()), SOCKS_USER, SOCKS_PASSWORD)
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(SAMPLE_RESOURCE)
    assert proxy.requests == [(3, "origin.test", _port(origin.get_url()))]
    assert proxy.logins == [SOCKS_USER]


@pytest.mark.parametrize("username,password,text", [
    (SOCKS_USER, "Wrong-Pass-99", "SOCKS5 authentication failed"),
    (None, None, "All offered SOCKS5 authentication methods were rejected"),
])
@pytest_twisted.inlineCallbacks
def test_pysocks_refused_credentials(make_socks, origin, username, password, text):
    proxy = yield make_socks(USERS)
    with pytest.raises(socks.ProxyError, match=text):
        yield threads.deferToThread(_pysocks_get, proxy.port, "origin.test",
                                    _port(origin.get_url()), username, password)


@pytest_twisted.inlineCallbacks
def test_pysocks_sees_the_reply_codes(make_socks, origin):
    proxy = yield make_socks(USERS)
    with pytest.raises(socks.ProxyError, match="0x04: Host unreachable"):
        yield threads.deferToThread(_pysocks_get, proxy.port, "nowhere.test", 80,
                                    SOCKS_USER, SOCKS_PASSWORD)
    with pytest.raises(socks.ProxyError, match="0x02: Connection not allowed by ruleset"):
        yield threads.deferToThread(_pysocks_get, proxy.port, "192.0.2.1", 80,
                                    SOCKS_USER, SOCKS_PASSWORD)


@pytest_twisted.inlineCallbacks
def test_curl_socks5_hostname_over_http_and_https(make_socks, origin, tmp_path):
    proxy = yield make_socks(USERS)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(origin.ca_cert_pem)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}    # no *_proxy variables
    for url in (origin.get_url(), origin.get_https_url()):
        out, err, code = yield utils.getProcessOutputAndValue(
            shutil.which("curl"),
            ["-sS", "--max-time", "10", "--cacert", str(ca), "--socks5-hostname",
             f"127.0.0.1:{proxy.port}", "--proxy-user", f"{SOCKS_USER}:{SOCKS_PASSWORD}",
             url + "simpleresource"], env=env, reactor=reactor)
        assert (code, out) == (0, SAMPLE_RESOURCE), err
    out, err, code = yield utils.getProcessOutputAndValue(
        shutil.which("curl"),
        ["-sS", "--max-time", "10", "--socks5-hostname", f"127.0.0.1:{proxy.port}",
         "--proxy-user", f"{SOCKS_USER}:Wrong-Pass-99", origin.get_url()], env=env,
        reactor=reactor)
    assert code != 0 and b"SOCKS" in err
    assert {h for _, h, _ in proxy.requests} == {"origin.test"}
