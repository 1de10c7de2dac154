"""20 concurrent first requests through every authenticating port of the real lab,
with a fresh client and the right credentials, over HTTP and HTTPS: all succeed,
and nothing is left in the reactor after `shutdown()` (lab's reactor check)."""

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, ssl

from lab.clients.ad import kinit
from lab.mockweb import SAMPLE_RESOURCE
from lab.proxy import ProxyWebClient

CONCURRENT = 20


@pytest.fixture
def ticket(lab_endpoints, tmp_path, monkeypatch):
    """A Kerberos ticket for the negotiate port's user, for this test only (the
    Kerberos libraries read the environment, so it is set for real)."""
    proxy, kdc = lab_endpoints.proxy["negotiate"], lab_endpoints.dc.kerberos
    session = kinit(proxy.username, proxy.password, lab_endpoints.dc.realm, kdc.host, kdc.port,
                    directory=tmp_path)
    for name, value in session.env.items():
        monkeypatch.setenv(name, value)


def client_for(lab_endpoints, port: str) -> ProxyWebClient:
    proxy = lab_endpoints.proxy[port]
    user, password = proxy.username, proxy.password
    if port == "ntlm":
        user = f"{lab_endpoints.dc.workgroup}\\{user}"
    if port == "negotiate":
        user = password = None            # single sign-on, from the ticket cache
    with open(lab_endpoints.web.ca_cert, "rb") as pem:
        trust_root = ssl.Certificate.loadPEM(pem.read())
    return ProxyWebClient(proxy.host, proxy.port, user, password, proxy_address=proxy.address,
                          trust_root=trust_root, reactor=reactor)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("port", ["basic", "ldap", "negotiate", "ntlm", "group"])
@pytest_twisted.inlineCallbacks
def test_twenty_concurrent_first_requests(lab_endpoints, request, port, scheme):
    if port == "negotiate":
        request.getfixturevalue("ticket")
    web = lab_endpoints.web
    base = web.proxy_url if scheme == "http" else web.https_proxy_url
    client = client_for(lab_endpoints, port)
    try:
        results = yield defer.DeferredList(
            [client.get_page(base + "simpleresource") for _ in range(CONCURRENT)],
            consumeErrors=True)
        failures = [str(value.value) for ok, value in results if not ok]
        assert failures == [], f"{len(failures)} of {CONCURRENT} failed: {failures[:3]}"
        assert all(body == SAMPLE_RESOURCE for _, body in results)
        # a second wave on what the first one learnt and kept alive
        bodies = yield defer.gatherResults(
            [client.get_page(base + "simpleresource") for _ in range(CONCURRENT)])
        assert bodies == [SAMPLE_RESOURCE] * CONCURRENT
    finally:
        yield client.shutdown()
    assert len(client.agent.pool) == 0
