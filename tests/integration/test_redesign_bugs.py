"""The bugs the redesign fixed, as a user met them: each through the real lab."""

import json
import os
import subprocess
import urllib.parse
import urllib.request

import pytest

from lab.clients.curl import proxy_args
from tests.integration.helpers import curl, run_lab


def _direct(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read()


def test_advertised_web_urls_answer_200(lab_endpoints):
    """Bug 1: `web.url` and `web.proxy_url` were 404s."""
    status, kind, body = _direct(lab_endpoints.web.url)
    assert status == 200 and kind == "text/html" and b"simpleresource" in body
    status, kind, body = _direct(lab_endpoints.web.url, accept="application/json")
    assert status == 200 and kind == "application/json"
    assert "/simpleresource" in [r["path"] for r in json.loads(body)["resources"]]


@pytest.mark.parametrize("port", ["noauth", "basic", "ldap", "ntlm", "group"])
def test_advertised_proxy_url_answers_200_through_each_port(lab_endpoints, port):
    args = proxy_args(lab_endpoints.proxy[port], workgroup=lab_endpoints.dc.workgroup)
    status, body = curl(lab_endpoints.web.proxy_url, *args)
    assert status == 200 and b"simpleresource" in body


def _krb5_caches(where) -> set[str]:
    return {name for name in os.listdir(where) if name.startswith("lab-krb5-")}


@pytest.mark.parametrize("argv,needle", [
    (["fetch", "http://[::1/"], "not a valid URL"),
    (["fetch", "http://web.ad.example.com/", "--via", "negotiate", "--user", "alice",
      "--password", "Wrong-Password-1"], "Password incorrect"),
    (["fetch", "http://web.ad.example.com/", "--via", "negotiate", "--user", "nobody-here",
      "--password", "Some-Password-1"], "not found in Kerberos database"),
    (["fetch", "http://web.ad.example.com/", "--password", "x"], "--password needs --user"),
    (["fetch", "http://web.ad.example.com/throwerror"], "the origin answered 404"),
    (["fetch", "http://no-such-host.ad.example.com/"], "the proxy answered"),
])
def test_lab_fetch_fails_in_one_line_and_never_hangs(lab_endpoints, argv, needle, tmp_path):
    """Bug 4: `lab fetch` hung forever after an early error, and exited 0 on squid's
    own errors; a failed kinit left a ticket cache behind (bug 8). Its own TMPDIR: other
    workers make ticket caches meanwhile."""
    proc = run_lab(*argv, timeout=60, env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lab: error: ") and needle in lines[0]
    assert "Traceback" not in proc.stderr and "Unhandled" not in proc.stderr
    assert _krb5_caches(tmp_path) == set()


def test_lab_fetch_with_a_lab_user_needs_no_password(lab_endpoints):
    """Bug 4: `--user bob` without `--password` sent the literal password "None"."""
    proc = run_lab("fetch", "http://web.ad.example.com/simpleresource", "--via", "ldap",
                   "--user", "bob")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("HTTP 200")


def test_negotiate_fetch_leaves_no_ticket_cache(lab_endpoints, tmp_path):
    proc = run_lab("fetch", "https://web.ad.example.com/simpleresource", "--via", "negotiate",
                   env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert _krb5_caches(tmp_path) == set()


@pytest.mark.parametrize("args", [["NOTATYPE"], ["a" * 300], [".."], ["ad.example.com", "AXFR"]])
def test_lab_dns_bad_input_is_one_line(lab_endpoints, args):
    """Bug 5: tracebacks for bad input."""
    if args == ["NOTATYPE"]:
        args = ["ad.example.com", "NOTATYPE"]
    proc = run_lab("dns", *args)
    assert proc.returncode == 1
    assert proc.stderr.startswith("lab: error: ") and proc.stderr.count("\n") == 1


def test_status_describes_health_of_every_service(lab_endpoints):
    """Bug 6: services with a health check were reported as having none."""
    proc = run_lab("status")
    assert proc.returncode == 0, proc.stderr
    for service in ("dns", "dc", "proxy", "web"):
        assert f"{service:<6} running (healthy)" in proc.stdout
    assert "no health check" not in proc.stdout


def test_web_key_is_private(lab_endpoints):
    """Bug 8: the web service's private key file was written 0644."""
    state = os.path.dirname(lab_endpoints.web.ca_cert)
    for name in ("web-tls.pem", "lab-ca.key"):
        assert os.stat(os.path.join(state, name)).st_mode & 0o077 == 0


def test_web_certificate_is_not_a_ca_and_verifies_with_the_lab_ca(lab_endpoints):
    port = urllib.parse.urlsplit(lab_endpoints.web.https_url).port
    out = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
         "-servername", "localhost", "-CAfile", lab_endpoints.web.ca_cert, "-verify_return_error",
         "-showcerts"], input="", capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "Verify return code: 0 (ok)" in out.stdout
    leaf = out.stdout.split("-----BEGIN CERTIFICATE-----")[1]
    text = subprocess.run(["openssl", "x509", "-noout", "-text"],
                          input="-----BEGIN CERTIFICATE-----" + leaf.split("-----END")[0]
                          + "-----END CERTIFICATE-----\n",
                          capture_output=True, text=True, timeout=10, check=True).stdout
    assert "CA:FALSE" in text
