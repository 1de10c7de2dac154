"""curl through every proxy port, as a user would from a shell."""

import subprocess

import pytest

from lab.clients.curl import proxy_args
from lab.config.discovery import load_config
from lab.endpoints import ProxyPort
from lab.mockweb import SAMPLE_RESOURCE
from tests.integration.helpers import curl as run_curl


def curl(tool, proxy: ProxyPort, url: str, user: str | None = None) -> tuple[int, bytes]:
    if user is None:
        return run_curl(url, *proxy_args(proxy, credentials=False), program=tool("curl"))
    name, _, password = user.partition(":")
    return run_curl(url, *proxy_args(proxy, user=name, password=password),
                    program=tool("curl"))


@pytest.fixture
def url(lab_endpoints):
    return lab_endpoints.web.proxy_url + "simpleresource"


def test_noauth_port_fetches_without_credentials(tool, lab_endpoints, url):
    assert curl(tool, lab_endpoints.proxy["noauth"], url) == (200, SAMPLE_RESOURCE)


def test_short_name_resolves_through_lab_dns(tool, lab_endpoints):
    status, body = curl(tool, lab_endpoints.proxy["noauth"], "http://web/simpleresource")
    assert (status, body) == (200, SAMPLE_RESOURCE)


@pytest.mark.parametrize("port", ["basic", "ldap"])
def test_auth_ports_demand_credentials(tool, lab_endpoints, url, port):
    status, _ = curl(tool, lab_endpoints.proxy[port], url)
    assert status == 407


@pytest.mark.parametrize("port", ["basic", "ldap"])
def test_auth_ports_accept_the_advertised_user(tool, lab_endpoints, url, port):
    proxy = lab_endpoints.proxy[port]
    user = f"{proxy.username}:{proxy.password}"
    assert curl(tool, proxy, url, user) == (200, SAMPLE_RESOURCE)


@pytest.mark.parametrize("port", ["basic", "ldap"])
def test_auth_ports_refuse_a_wrong_password(tool, lab_endpoints, url, port):
    proxy = lab_endpoints.proxy[port]
    status, _ = curl(tool, proxy, url, f"{proxy.wrong_username}:Not-Their-Password-1")
    assert status == 407


def test_htpasswd_only_user_works_on_basic_but_not_on_ldap(tool, lab_endpoints, url):
    config = load_config()
    carol = next(u for u in config.users if u.in_htpasswd and not u.in_domain)
    creds = f"{carol.name}:{carol.password}"
    # basic first, so squid has cached carol as valid before we ask the ldap port
    assert curl(tool, lab_endpoints.proxy["basic"], url, creds) == (200, SAMPLE_RESOURCE)
    assert curl(tool, lab_endpoints.proxy["ldap"], url, creds)[0] == 407


def test_domain_only_user_works_on_ldap_but_not_on_basic(tool, lab_endpoints, url):
    config = load_config()
    bob = next(u for u in config.users
               if u.in_domain and not u.in_htpasswd and not u.service)
    creds = f"{bob.name}:{bob.password}"
    assert curl(tool, lab_endpoints.proxy["ldap"], url, creds) == (200, SAMPLE_RESOURCE)
    assert curl(tool, lab_endpoints.proxy["basic"], url, creds)[0] == 407


def test_origin_errors_pass_through_the_proxy(tool, lab_endpoints):
    base = lab_endpoints.web.proxy_url
    proxy = lab_endpoints.proxy["noauth"]
    assert curl(tool, proxy, base + "throwerror")[0] == 404
    assert curl(tool, proxy, base + "unauthorized")[0] == 401


def test_web_is_reachable_directly_from_the_host(tool, lab_endpoints):
    out = subprocess.run([tool("curl"), "-sS", "--max-time", "10",
                          lab_endpoints.web.url + "simpleresource"],
                         capture_output=True, timeout=15, check=True).stdout
    assert out == SAMPLE_RESOURCE
