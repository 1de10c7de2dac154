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
        assert evaluate(views.host, url) == "PROXY 127.0.0.1:13128; DIRECT", url
    assert parse_pac_value(evaluate(views.host, "http://web.ad.example.com/")) == [
        "http://127.0.0.1:13128", "DIRECT"]


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


def test_the_pac_does_no_dns(config):
    """dnsResolve/isInNet block on DNS in every engine, and lab names do not resolve
    on the host: the generated PAC uses string functions only."""
    text = pac_views(config, PUBLISHED).host
    for blocking in ("dnsResolve", "isInNet", "isResolvable", "myIpAddress"):
        assert blocking not in text
