"""The pytest side of issue 4: fixtures, `lab fetch`, `lab status --json` web keys."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest_twisted

from lab.clients.curl import proxy_args
from lab.mockweb import SAMPLE_RESOURCE
from lab.proxy import ProxyWebClient
from tests.integration.helpers import run_lab


@pytest_twisted.inlineCallbacks
def test_fixtures_fetch_an_in_process_server_through_the_proxy(proxy_auth_settings,
                                                               lab_mock_web_server):
    settings = proxy_auth_settings
    client = ProxyWebClient(settings["host"], settings["port"], settings["username"],
                            settings["password"],
                            trust_root=lab_mock_web_server.certificate.trust_root())
    try:
        for url in (lab_mock_web_server.get_url(), lab_mock_web_server.get_https_url()):
            assert (yield client.get_page(url + "simpleresource")) == SAMPLE_RESOURCE
    finally:
        yield client.shutdown()


def test_nonauth_fixture_has_no_credentials(proxy_nonauth_settings):
    assert set(proxy_nonauth_settings) == {"host", "port"}


def test_status_json_web_keys(lab_endpoints):
    web = lab_endpoints.web
    assert web.https_url.startswith("https://") and web.https_url.endswith("/")
    assert web.https_proxy_url == "https://web.ad.example.com/"
    assert os.path.isfile(web.ca_cert)
    assert Path(web.ca_cert).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_curl_trusts_the_web_ca_through_connect(tool, lab_endpoints):
    web, proxy = lab_endpoints.web, lab_endpoints.proxy["noauth"]
    out = subprocess.run([tool("curl"), "-sS", "--max-time", "10", "--cacert", web.ca_cert,
                          *proxy_args(proxy), web.https_proxy_url + "simpleresource"],
                         capture_output=True, timeout=15, check=True).stdout
    assert out == SAMPLE_RESOURCE


def lab(*args, env=None):
    return run_lab(*args, env=env, text=False)


def test_lab_fetch_prints_status_headers_and_body(lab_endpoints):
    proc = lab("fetch", lab_endpoints.web.proxy_url + "simpleresource", "--via", "basic")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"HTTP 200\n")
    assert b"\nVia: " in proc.stdout
    assert proc.stdout.endswith(b"\n\n" + SAMPLE_RESOURCE)


def test_lab_fetch_https_via_ldap(lab_endpoints):
    proc = lab("fetch", lab_endpoints.web.https_proxy_url + "simpleresource",
               "--via", "ldap")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(SAMPLE_RESOURCE)


def test_lab_fetch_wrong_password_is_one_clear_line(lab_endpoints):
    proc = lab("fetch", lab_endpoints.web.proxy_url, "--via", "basic",
               "--user", lab_endpoints.proxy["basic"].wrong_username, "--password", "not-it")
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1
    assert b"407" in proc.stderr and b"not-it" not in proc.stderr


def test_squid_testcase_without_a_lab_fails_at_once_saying_what_to_do(tmp_path, lab_endpoints):
    (tmp_path / "test_needs_lab.py").write_text(textwrap.dedent("""
        from lab.testcases import SquidTestCase

        class T(SquidTestCase):
            def test_settings(self):
                self.get_auth_proxy_settings()
    """))
    proc = subprocess.run([sys.executable, "-m", "twisted.trial", "test_needs_lab"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LAB_PROJECT": "no-such-lab-here"})
    assert proc.returncode != 0
    assert "make lab-up" in proc.stdout


def test_lab_fetch_via_the_ad_ports(lab_endpoints):
    for port in ("negotiate", "ntlm", "group"):
        for base in (lab_endpoints.web.proxy_url, lab_endpoints.web.https_proxy_url):
            proc = lab("fetch", base + "simpleresource", "--via", port)
            assert proc.returncode == 0, (port, base, proc.stderr)
            assert proc.stdout.startswith(b"HTTP 200\n") and proc.stdout.endswith(SAMPLE_RESOURCE)


def test_lab_fetch_group_refusal_is_distinct_from_bad_credentials(lab_endpoints):
    group = lab_endpoints.proxy["group"]
    url = lab_endpoints.web.proxy_url + "simpleresource"
    denied = lab("fetch", url, "--via", "group", "--user", group.denied_username,
                 "--password", group.denied_password)
    wrong = lab("fetch", url, "--via", "group", "--user", group.wrong_username,
                "--password", "Wrong-Password-1")
    assert denied.returncode == wrong.returncode == 1
    assert b"403" in denied.stderr and b"not allowed" in denied.stderr
    assert b"407" in wrong.stderr and b"refused the credentials" in wrong.stderr
