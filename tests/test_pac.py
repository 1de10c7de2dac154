"""PAC generation (`lab.stack.pac_file`), proved by a PAC engine nobody here wrote: pypac's
`PACFile` (JavaScript run by dukpy) evaluates what we generate."""

import pytest
from pypac.parser import PACFile, parse_pac_value

from lab.config.discovery import load_config
from lab.errors import ConfigError
from lab.stack.pac_file import PacPolicy, pac_entry, pac_text, pac_views

PUBLISHED = {"proxy_noauth": 13128, "proxy_basic": 13129}


def evaluate(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    return PACFile(text).find_proxy_for_url(url, urlsplit(url).hostname)


@pytest.fixture
def config(lab_root, tmp_path):
    return load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path)})


def test_host_view_routes_lab_names_to_the_published_port(config):
    views = pac_views(config, PUBLISHED)
    for url in ("http://web.ad.example.com/", "https://web.ad.example.com:8443/x?y=1",
                "http://ad.example.com/", "http://WEB.AD.EXAMPLE.COM/"):
        assert evaluate(views.host, url) == "PROXY 127.0.0.1:13128", url
    assert parse_pac_value(evaluate(views.host, "http://web.ad.example.com/")) == [
        "http://127.0.0.1:13128"]


def test_lab_view_routes_lab_names_to_the_proxy_by_its_lab_name(config):
    views = pac_views(config, PUBLISHED, port_name="proxy_basic", fallback=())
    assert evaluate(views.lab, "https://web.ad.example.com/") == (
        "PROXY proxy.ad.example.com:3129")
    assert "lab network view" in views.lab and "host view" in views.host


@pytest.mark.parametrize("url", [
    "http://localhost:8080/", "http://127.0.0.1/", "http://127.3.4.5:99/", "http://[::1]/",
    "http://intranet.corp.test/", "http://a.b.partner.test/", "http://partner.test/",
    "http://build-7.ad.example.com/"])
def test_loopback_and_direct_names_go_direct(config, url):
    views = pac_views(config, PUBLISHED,
                      direct=("intranet.corp.test", ".partner.test", "build-*.ad.example.com"))
    for text in (views.host, views.lab):
        assert evaluate(text, url) == "DIRECT", url


def test_names_outside_the_lab_get_otherwise(config):
    views = pac_views(config, PUBLISHED, otherwise="PROXY 127.0.0.1:13129; DIRECT")
    assert evaluate(views.host, "http://example.org/") == "PROXY 127.0.0.1:13129; DIRECT"
    assert evaluate(views.host, "http://notad.example.com/") == "PROXY 127.0.0.1:13129; DIRECT"
    assert evaluate(pac_views(config, PUBLISHED).host, "http://example.org/") == "DIRECT"


def test_socks_ports_are_socks5_routes(config):
    policy = PacPolicy("ad.example.com", pac_entry("SOCKS5", "127.0.0.1", 11080), fallback=())
    assert evaluate(pac_text(policy), "http://web.ad.example.com/") == "SOCKS5 127.0.0.1:11080"
    assert parse_pac_value("SOCKS5 127.0.0.1:11080") == ["socks5://127.0.0.1:11080"]


def test_unknown_or_unpublished_port_is_a_config_error(config):
    with pytest.raises(ConfigError, match="no port 'proxy_nope'.*proxy_noauth"):
        pac_views(config, PUBLISHED, port_name="proxy_nope")
    with pytest.raises(ConfigError, match="proxy_ntlm is not published"):
        pac_views(config, PUBLISHED, port_name="proxy_ntlm")


@pytest.mark.parametrize("kwargs", [
    {"proxy": "PROXY 127.0.0.1"}, {"proxy": "FTP a:1"}, {"proxy": 'PROXY a:1"; evil()'},
    {"direct": ('x"); evil(); ("',)}, {"fallback": ("DIRECT x:1",)}])
def test_nothing_unchecked_reaches_the_javascript(kwargs):
    with pytest.raises(ValueError):
        PacPolicy(**{"domain": "ad.example.com", "proxy": "PROXY a:1", **kwargs})


@pytest.fixture
def lab_network(config, monkeypatch):
    """pypac as on a machine of the lab network: the lab's DNS answers the DC's name and
    the machine has a lab address. Returns the names dnsResolve was asked for."""
    from pypac.parser_functions import function_injections

    asked = []
    dc_address = str(config.subnet.network_address + 2)
    mine = str(config.subnet.network_address + 50)

    def dns_resolve(name):
        asked.append(name)
        return dc_address if name == config.dc_fqdn else None

    monkeypatch.setitem(function_injections, "dnsResolve", dns_resolve)
    monkeypatch.setitem(function_injections, "myIpAddress", lambda: mine)
    return asked


def test_on_the_lab_network_lab_names_fall_back_to_direct(config, lab_network):
    views = pac_views(config, PUBLISHED)
    assert evaluate(views.lab, "http://web.ad.example.com/") == \
        "PROXY proxy.ad.example.com:3128; DIRECT"
    assert lab_network == [config.dc_fqdn]


def test_the_pac_scenarios_names_have_routes_of_their_own(config, lab_network):
    views = pac_views(config, {**PUBLISHED, "proxy_corp": 13135})
    assert evaluate(views.lab, "http://failover.ad.example.com/") == \
        "PROXY proxy.ad.example.com:1; PROXY proxy.ad.example.com:3128; DIRECT"
    assert evaluate(views.lab, "http://secure.ad.example.com/") == \
        "PROXY proxy.ad.example.com:3135; DIRECT"


def test_off_the_lab_network_a_fallback_list_keeps_its_proxies_not_direct(config):
    views = pac_views(config, PUBLISHED, fallback=("PROXY 127.0.0.1:13129", "DIRECT"))
    assert evaluate(views.host, "http://web.ad.example.com/") == \
        "PROXY 127.0.0.1:13128; PROXY 127.0.0.1:13129"


def test_an_address_outside_the_lab_network_is_not_on_it(config, lab_network, monkeypatch):
    from pypac.parser_functions import function_injections

    monkeypatch.setitem(function_injections, "myIpAddress", lambda: "192.0.2.7")
    assert evaluate(pac_views(config, PUBLISHED).lab, "http://web.ad.example.com/") == \
        "PROXY proxy.ad.example.com:3128"


@pytest.mark.parametrize("url", [
    "http://intranet/", "http://localhost/", "http://127.0.0.1/", "http://192.0.2.1/",
    "http://example.org/", "http://a.partner.test/"])
def test_dns_is_asked_only_for_names_of_the_lab_domain(config, lab_network, url):
    """dnsResolve blocks in every engine: a name outside the lab domain never costs it."""
    evaluate(pac_views(config, PUBLISHED, direct=(".partner.test",)).lab, url)
    assert lab_network == []
