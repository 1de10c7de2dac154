"""The AD-backed proxy ports with real clients: kinit + curl for Negotiate, curl for
NTLM, the group port, and each port speaking only its own scheme."""

import os
import subprocess

import pytest

from lab.clients.ad import kinit
from lab.clients.curl import proxy_args
from lab.mockweb import SAMPLE_RESOURCE
from tests.integration.helpers import curl as run_curl


def curl(tool, url, *args, env=None):
    return run_curl(url, *args, env=env, program=tool("curl"))


@pytest.fixture
def url(lab_endpoints):
    return lab_endpoints.web.proxy_url + "simpleresource"


@pytest.fixture
def ticket(lab_endpoints, tmp_path):
    proxy, kdc = lab_endpoints.proxy["negotiate"], lab_endpoints.dc.kerberos
    return kinit(proxy.username, proxy.password, lab_endpoints.dc.realm,
                 kdc.host, kdc.port, directory=tmp_path)


def test_negotiate_with_a_ticket(tool, lab_endpoints, url, ticket):
    proxy = lab_endpoints.proxy["negotiate"]
    assert curl(tool, url, *proxy_args(proxy), env=ticket.env) == (200, SAMPLE_RESOURCE)


def test_negotiate_service_ticket_is_aes(tool, lab_endpoints, url, ticket):
    proxy = lab_endpoints.proxy["negotiate"]
    curl(tool, url, *proxy_args(proxy), env=ticket.env)
    klist = subprocess.run([tool("klist"), "-e"], capture_output=True, text=True, timeout=15,
                           env={**os.environ, **ticket.env}, check=True).stdout
    service = klist.split(f"HTTP/{proxy.host}@", 1)[1]
    assert "Etype (skey, tkt): aes256-cts-hmac-sha1-96, aes256-cts-hmac-sha1-96" in service
    assert "rc4" not in service.split("Ticket server")[0]


def test_negotiate_without_a_ticket_is_407(tool, lab_endpoints, url, tmp_path):
    proxy = lab_endpoints.proxy["negotiate"]
    env = {"KRB5CCNAME": f"FILE:{tmp_path / 'empty'}", "KRB5_CONFIG": "/dev/null"}
    assert curl(tool, url, *proxy_args(proxy), env=env)[0] == 407


def ntlm_args(lab_endpoints, password=None):
    return proxy_args(lab_endpoints.proxy["ntlm"], workgroup=lab_endpoints.dc.workgroup,
                      password=password)


def test_ntlm_with_the_right_password(tool, lab_endpoints, url):
    assert curl(tool, url, *ntlm_args(lab_endpoints)) == (200, SAMPLE_RESOURCE)


def test_ntlm_with_a_wrong_password_is_407(tool, lab_endpoints, url):
    assert curl(tool, url, *ntlm_args(lab_endpoints, "Not-The-Password-1"))[0] == 407


def test_group_member_is_admitted(tool, lab_endpoints, url):
    proxy = lab_endpoints.proxy["group"]
    assert curl(tool, url, *proxy_args(proxy)) == (200, SAMPLE_RESOURCE)


def test_valid_user_outside_the_group_gets_403(tool, lab_endpoints, url):
    proxy = lab_endpoints.proxy["group"]
    args = proxy_args(proxy, user=proxy.denied_username, password=proxy.denied_password)
    assert curl(tool, url, *args)[0] == 403


def test_group_port_without_credentials_is_407(tool, lab_endpoints, url):
    proxy = lab_endpoints.proxy["group"]
    assert curl(tool, url, *proxy_args(proxy, credentials=False))[0] == 407


@pytest.mark.parametrize("port,scheme", [
    ("basic", "Basic"), ("ldap", "Basic"), ("group", "Basic"),
    ("negotiate", "Negotiate"), ("ntlm", "NTLM"),
])
def test_each_port_offers_only_its_scheme(tool, lab_endpoints, url, port, scheme):
    proxy = lab_endpoints.proxy[port]
    out = subprocess.run([tool("curl"), "-sS", "--max-time", "10", "-D", "-", "-o", "/dev/null",
                          *proxy_args(proxy, credentials=False), url],
                         capture_output=True, text=True, timeout=20, check=True).stdout
    offered = [line.split(":", 1)[1].split()[0] for line in out.splitlines()
               if line.lower().startswith("proxy-authenticate:")]
    assert offered == [scheme]


def test_basic_credentials_pushed_at_negotiate_and_ntlm_are_refused(tool, lab_endpoints, url):
    user = lab_endpoints.proxy["ldap"]
    for port in ("negotiate", "ntlm"):
        args = proxy_args(lab_endpoints.proxy[port], scheme="basic", user=user.username,
                          password=user.password)
        assert curl(tool, url, *args)[0] == 403


def test_ntlm_credentials_pushed_at_a_basic_port_are_refused(tool, lab_endpoints, url):
    ntlm = lab_endpoints.proxy["ntlm"]
    args = proxy_args(lab_endpoints.proxy["ldap"], scheme="ntlm", user=ntlm.username,
                      password=ntlm.password, workgroup=lab_endpoints.dc.workgroup)
    assert curl(tool, url, *args)[0] == 403
