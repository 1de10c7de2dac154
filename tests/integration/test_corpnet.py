"""The corporate network as clients meet it (issue 12): TLS inspection on `bump`,
proxy auto-configuration (PAC, WPAD) and SOCKS5, each proved with clients
nobody here wrote: curl, wget, openssl, dig, requests, httpx, pypac."""

import json
import re
import ssl
import subprocess
import sys
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from pypac import PACSession
from pypac.parser import PACFile

from lab.mockweb import SAMPLE_RESOURCE, SIMPLERESOURCE
from tests.integration.helpers import run_lab

CORPORATE_ISSUER = "lab corporate issuing CA"
CORPORATE_ROOT = "lab corporate root CA"
WEB_ISSUER = "lab CA"


@pytest.fixture
def bump(lab_endpoints):
    return lab_endpoints.proxy["bump"]


@pytest.fixture
def socks(lab_endpoints):
    return lab_endpoints.proxy["socks"]


@pytest.fixture
def https_url(lab_endpoints):
    return lab_endpoints.web.https_proxy_url + SIMPLERESOURCE


@pytest.fixture
def exempt_url(lab_endpoints):
    return f"https://bank.{lab_endpoints.dc.domain}/{SIMPLERESOURCE}"


def _curl(tool, *args, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run([tool("curl"), "-sS", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=timeout)


def _issuer(verbose_stderr: str) -> str:
    """The server certificate's issuer, as curl -v (OpenSSL) prints it."""
    match = re.search(r"^\*\s+issuer: (.*)$", verbose_stderr, re.MULTILINE)
    assert match, verbose_stderr
    return match.group(1)


def _s_client(tool, proxy, host: str, cafile: str) -> str:
    """openssl s_client through a CONNECT on `proxy`: the chain and verdict it prints."""
    proc = subprocess.run(
        [tool("openssl"), "s_client", "-proxy", f"{proxy.host}:{proxy.port}", "-connect",
         f"{host}:443", "-servername", host, "-showcerts", "-CAfile", cafile],
        input="", capture_output=True, text=True, timeout=30)
    return proc.stdout


# -- TLS inspection -------------------------------------------------------------------


def test_bump_trusting_the_corporate_ca_sees_the_origin_resigned_by_it(
        tool, lab_endpoints, bump, https_url):
    proc = _curl(tool, "-v", "-x", bump.url, "--cacert", lab_endpoints.corporate_ca,
                 "-o", "/dev/null", "-w", "%{http_code}", https_url)
    assert (proc.returncode, proc.stdout) == (0, "200"), proc.stderr
    assert CORPORATE_ISSUER in _issuer(proc.stderr)


def test_bump_without_the_corporate_ca_is_a_verification_error(
        tool, lab_endpoints, bump, https_url):
    """The client trusts the origin's own CA, as one shipping its own bundle would."""
    proc = _curl(tool, "-x", bump.url, "--cacert", lab_endpoints.web.ca_cert, https_url)
    assert proc.returncode == 60, proc.stderr


def test_openssl_through_a_connect_on_bump_shows_the_resigned_chain(
        tool, lab_endpoints, bump):
    """squid sends the issuing CA with the leaf: trusting the corporate root alone
    (corporate_ca), openssl builds the chain and verifies it."""
    host = lab_endpoints.web.https_proxy_url.split("/")[2]
    out = _s_client(tool, bump, host, lab_endpoints.corporate_ca)
    chain = re.findall(r"^ (\d) s:(.*)\n\s+i:(.*)$", out, re.MULTILINE)
    assert [(depth, CORPORATE_ISSUER in issuer) for depth, _, issuer in chain] == [
        ("0", True), ("1", False)], out
    assert host in chain[0][1] and CORPORATE_ISSUER in chain[1][1]
    assert CORPORATE_ROOT in chain[1][2]
    assert "Verify return code: 0 (ok)" in out


def test_an_exempt_name_keeps_the_origins_own_certificate(
        tool, lab_endpoints, bump, exempt_url):
    host = exempt_url.split("/")[2]
    out = _s_client(tool, bump, host, lab_endpoints.web.ca_cert)
    leaf = re.search(r"^ 0 s:(.*)\n\s+i:(.*)$", out, re.MULTILINE)
    assert leaf, out
    assert f"CN = {WEB_ISSUER} (" in leaf.group(2) and "lab corporate" not in out
    assert "Verify return code: 0 (ok)" in out
    proc = _curl(tool, "-v", "-x", bump.url, "--cacert", lab_endpoints.web.ca_cert,
                 "-o", "/dev/null", "-w", "%{http_code}", exempt_url)
    assert (proc.returncode, proc.stdout) == (0, "200"), proc.stderr
    assert "lab corporate" not in _issuer(proc.stderr)


@pytest.mark.parametrize("client", ["curl", "wget", "requests", "lab.proxy"])
def test_bump_chain_trusting_the_root_alone(tool, client):
    """bump-chain: the CA variables hold the corporate root only; every client builds the
    chain from the issuing CA squid sends."""
    command = {"curl": [tool("curl"), "-fsS", "-o", "/dev/null", "{url}"],
               "wget": [tool("sh"), "-c", 'wget -q -O /dev/null --ca-certificate="$SSL_CERT_FILE"'
                        ' "$1"', "sh", "{url}"],
               "requests": [sys.executable, "-c", "import sys, requests; requests.get("
                            "sys.argv[1], timeout=10).raise_for_status()", "{url}"],
               "lab.proxy": [sys.executable, "-m", "lab.proxy", "{url}"]}[client]
    proc = run_lab("matrix", "--json", "--only", "bump-chain,bump-trusted", "--", *command)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, [(s["name"], s["reason"]) for s in doc["scenarios"]]


def test_plain_http_through_bump_works_as_on_noauth(tool, lab_endpoints, bump):
    proc = _curl(tool, "-x", bump.url, lab_endpoints.web.proxy_url + SIMPLERESOURCE)
    assert (proc.returncode, proc.stdout.encode()) == (0, SAMPLE_RESOURCE), proc.stderr


def test_wget_through_bump_with_the_corporate_ca(tool, lab_endpoints, bump, https_url,
                                                 tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "https_proxy": bump.url}
    ok = subprocess.run([tool("wget"), "-q", "-O", "-", "--timeout=10", "--tries=1",
                         f"--ca-certificate={lab_endpoints.corporate_ca}", https_url],
                        capture_output=True, env=env, timeout=30)
    assert (ok.returncode, ok.stdout) == (0, SAMPLE_RESOURCE), ok.stderr
    refused = subprocess.run([tool("wget"), "-q", "-O", "-", "--timeout=10", "--tries=1",
                              f"--ca-certificate={lab_endpoints.web.ca_cert}", https_url],
                             capture_output=True, env=env, timeout=30)
    assert refused.returncode == 5          # wget: SSL verification failure


def test_requests_and_httpx_through_bump(lab_endpoints, bump, https_url):
    import httpx

    proxies = {"https": bump.url}
    answer = requests.get(https_url, proxies=proxies, verify=lab_endpoints.corporate_ca,
                          timeout=10)
    assert (answer.status_code, answer.content) == (200, SAMPLE_RESOURCE)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https_url, proxies=proxies, verify=lab_endpoints.web.ca_cert, timeout=10)
    trust = ssl.create_default_context(cafile=lab_endpoints.corporate_ca)
    with httpx.Client(proxy=bump.url, verify=trust, timeout=10) as http:
        assert http.get(https_url).content == SAMPLE_RESOURCE


def test_twenty_clients_at_once_through_bump(lab_endpoints, bump, https_url):
    """Certificates minted for one name while 20 handshakes wait on them."""

    def fetch(_):
        with requests.Session() as session:
            answer = session.get(https_url, proxies={"https": bump.url}, timeout=20,
                                 verify=lab_endpoints.corporate_ca)
            return answer.status_code, answer.content

    with ThreadPoolExecutor(20) as pool:
        assert set(pool.map(fetch, range(20))) == {(200, SAMPLE_RESOURCE)}


# -- PAC and WPAD ---------------------------------------------------------------------


def test_wpad_and_bank_resolve_to_the_web_service(tool, lab_endpoints):
    dns = lab_endpoints.dns
    domain = lab_endpoints.dc.domain

    def dig(name):
        return subprocess.run([tool("dig"), "+short", "+time=2", "+tries=1", "-p",
                               str(dns.port), f"@{dns.host}", name], capture_output=True,
                              text=True, timeout=10, check=True).stdout.split()

    web = dig(f"web.{domain}")
    assert len(web) == 1
    assert dig(f"wpad.{domain}") == web == dig(f"bank.{domain}")


def _pac(url: str) -> tuple[str, str]:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10
                                                                        ) as answer:
        return answer.headers["Content-Type"], answer.read().decode()


def test_the_pac_host_view_sends_lab_names_through_the_published_port(lab_endpoints):
    """pypac (dukpy's JavaScript engine) evaluates the PAC the web service serves."""
    content_type, text = _pac(lab_endpoints.pac_url)
    assert content_type == "application/x-ns-proxy-autoconfig"
    pac = PACFile(text)
    noauth = lab_endpoints.proxy["noauth"]
    lab_url = lab_endpoints.web.proxy_url + SIMPLERESOURCE
    # off the lab network (this host resolves no lab names): the proxy, and no DIRECT
    assert pac.find_proxy_for_url(lab_url, lab_url.split("/")[2]) == \
        f"PROXY 127.0.0.1:{noauth.port}"
    for url, host in (("http://127.0.0.1:8080/", "127.0.0.1"),
                      ("http://localhost/", "localhost")):
        assert pac.find_proxy_for_url(url, host) == "DIRECT"
    assert _pac(lab_endpoints.pac_url.replace("proxy.pac", "wpad.dat"))[1] == text


def test_a_client_in_the_lab_network_gets_the_lab_view_through_wpad(lab_stack, lab_endpoints):
    """From inside the lab (the proxy's container, whose resolver is the lab's bind),
    WPAD's URL answers with the proxy's lab name and container port, and a PAC engine
    there (pactester) takes the lab-network branch: the DC's name resolves into the lab
    network, and so does its own address (dnsResolve, myIpAddress): DIRECT may follow."""
    engine = lab_stack.engine
    state = engine.services(lab_stack.config.project)["proxy"]
    container = engine.client.containers.get(state.container_id)
    url = f"http://wpad.{lab_endpoints.dc.domain}/wpad.dat"
    config = lab_stack.config
    code, output = container.exec_run(
        ["sh", "-c", 'curl -fsS --max-time 5 -o /tmp/wpad.dat "$1" && '
         'pactester -p /tmp/wpad.dat -u "$2" && pactester -p /tmp/wpad.dat -u "$3"',
         "sh", url, f"http://web.{config.domain}/simpleresource", "http://web/"])
    assert code == 0, output
    assert output.decode().splitlines() == [f"PROXY {config.proxy_fqdn}:3128; DIRECT", "DIRECT"]


def test_pypac_session_fetches_a_lab_url_through_the_proxy_the_pac_names(lab_endpoints):
    token = f"/matrix/corpnet-{uuid.uuid4().hex[:8]}/pac"
    with PACSession(PACFile(_pac(lab_endpoints.pac_url)[1])) as session:
        answer = session.get(lab_endpoints.web.proxy_url.rstrip("/") + token, timeout=10)
    assert answer.status_code == 200
    seen = _origin_saw(lab_endpoints, token)
    assert [r["client"] for r in seen] == [lab_endpoints.proxy_lab_address]


def _origin_saw(lab_endpoints, token: str) -> list[dict]:
    url = f"{lab_endpoints.web.url}_lab/requests?prefix={token}"
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10
                                                                        ) as answer:
        return json.load(answer)["requests"]


# -- SOCKS5 ---------------------------------------------------------------------------


def test_curl_socks5_hostname_with_the_right_and_a_wrong_password(tool, lab_endpoints, socks):
    url = lab_endpoints.web.proxy_url + SIMPLERESOURCE
    where = f"{socks.host}:{socks.port}"
    ok = _curl(tool, "--socks5-hostname", where, "--proxy-user",
               f"{socks.username}:{socks.password}", url)
    assert (ok.returncode, ok.stdout.encode()) == (0, SAMPLE_RESOURCE), ok.stderr
    wrong = _curl(tool, "--socks5-hostname", where, "--proxy-user",
                  f"{socks.username}:{socks.password}-wrong", url)
    assert wrong.returncode == 97 and "rejected" in wrong.stderr


def test_socks_connects_only_into_the_lab_network(tool, socks):
    """192.0.2.1 (TEST-NET-1) is outside the lab subnet: dante refuses at once."""
    proc = _curl(tool, "-x", f"socks5h://{socks.host}:{socks.port}", "--proxy-user",
                 f"{socks.username}:{socks.password}", "http://192.0.2.1/")
    assert proc.returncode == 97, proc.stderr


def test_requests_socks5h_over_http_and_https(lab_endpoints, socks):
    from urllib.parse import quote

    proxy = (f"socks5h://{quote(socks.username, safe='')}:{quote(socks.password, safe='')}"
             f"@{socks.host}:{socks.port}")
    proxies = {"http": proxy, "https": proxy}
    plain = requests.get(lab_endpoints.web.proxy_url + SIMPLERESOURCE, proxies=proxies,
                         timeout=10)
    assert plain.content == SAMPLE_RESOURCE
    tls = requests.get(lab_endpoints.web.https_proxy_url + SIMPLERESOURCE, proxies=proxies,
                       verify=lab_endpoints.web.ca_cert, timeout=10)
    assert tls.content == SAMPLE_RESOURCE
    wrong = proxy.replace(quote(socks.password, safe=""),
                          quote(socks.password + "-wrong", safe=""))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(lab_endpoints.web.proxy_url + SIMPLERESOURCE,
                     proxies={"http": wrong}, timeout=10)


def test_twenty_clients_at_once_through_socks(lab_endpoints, socks):
    token = f"/matrix/corpnet-{uuid.uuid4().hex[:8]}/socks"
    proxy = f"socks5h://{socks.username}:{socks.password}@{socks.host}:{socks.port}"

    def fetch(i):
        return requests.get(f"{lab_endpoints.web.proxy_url.rstrip('/')}{token}/{i}",
                            proxies={"http": proxy}, timeout=20).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(fetch, range(20))) == [200] * 20
    seen = _origin_saw(lab_endpoints, token)
    assert len(seen) == 20
    assert {r["client"] for r in seen} == {lab_endpoints.proxy_lab_address}
