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


# -- the company port: every scheme on one port ---------------------------------------


def test_the_company_port_offers_negotiate_ntlm_and_basic_in_that_order(tool, lab_endpoints,
                                                                        url):
    out = subprocess.run([tool("curl"), "-sS", "--max-time", "10", "-D", "-", "-o", "/dev/null",
                          *proxy_args(lab_endpoints.proxy["corp"], credentials=False), url],
                         capture_output=True, text=True, timeout=20, check=True).stdout
    offered = [line.split(":", 1)[1].strip() for line in out.splitlines()
               if line.lower().startswith("proxy-authenticate:")]
    assert offered == ["Negotiate", "NTLM", 'Basic realm="lab proxy"']


def _domain_forms(endpoints, user):
    dc = endpoints.dc
    return [user, f"{dc.workgroup}\\{user}", f"{dc.workgroup.lower()}\\{user}",
            f"{user}@{dc.realm}", f"{user}@{dc.domain}"]


@pytest.mark.parametrize("scheme", ["basic", "ntlm"])
def test_the_company_port_takes_every_domain_form_of_a_user(tool, lab_endpoints, url, scheme):
    """As a Windows DC does (versat/cntlm#19): the NetBIOS domain in either case, the
    realm or the DNS domain after an @, or no domain at all; Basic as well as NTLM."""
    proxy = lab_endpoints.proxy["corp"]
    for user in _domain_forms(lab_endpoints, proxy.username):
        args = proxy_args(proxy, scheme=scheme, user=user, password=proxy.password)
        if scheme == "ntlm":                  # proxy_args prefixes a workgroup: none here
            args[args.index("-U") + 1] = f"{user}:{proxy.password}"
        assert curl(tool, url, *args) == (200, SAMPLE_RESOURCE), user


def test_the_company_port_refuses_another_domains_user_and_a_wrong_password(tool,
                                                                            lab_endpoints, url):
    proxy = lab_endpoints.proxy["corp"]
    for user, password in ((f"OTHER\\{proxy.username}", proxy.password),
                           (f"{proxy.username}@OTHER.EXAMPLE", proxy.password),
                           (f"{lab_endpoints.dc.workgroup}\\{proxy.wrong_username}",
                            "Not-Their-Password-1")):
        args = proxy_args(proxy, scheme="basic", user=user, password=password)
        assert curl(tool, url, *args)[0] == 407, user


def test_the_company_port_takes_a_kerberos_ticket(tool, lab_endpoints, url, ticket):
    corp = lab_endpoints.proxy["corp"]
    args = ["--proxy-negotiate", "-U", ":", "-x", f"http://localhost:{corp.port}"]
    assert curl(tool, url, *args, env=ticket.env) == (200, SAMPLE_RESOURCE)


def test_the_company_port_twenty_ntlm_handshakes_at_once(tool, lab_endpoints, url):
    proxy = lab_endpoints.proxy["corp"]
    args = proxy_args(proxy, scheme="ntlm", workgroup=lab_endpoints.dc.workgroup)
    cmd = [tool("curl"), "-sS", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code}",
           *args, url]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(20)]
    codes = [p.communicate(timeout=30)[0] for p in procs]
    assert codes == ["200"] * 20
