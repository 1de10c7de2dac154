"""A Java client as companies write them (java.net.http's HttpClient, Debian's JDK),
configured by the JAVA_TOOL_OPTIONS each scenario gives: the proxy, and a PKCS#12
trust store of the lab's CAs made with keytool. What it fails is measured: Basic over
CONNECT (the JDK disables it by default: jdk.http.auth.tunneling.disabledSchemes),
NTLM and Negotiate (not in java.net.http), SOCKS5 (ignored by HttpClient), PAC (no
engine), and the lockout budget (it retries a refused password three times)."""

import json
import subprocess
from pathlib import Path

import pytest

from harness.clients import NEEDS_PAC
from lab.scenarios.catalogue import NAMES, spec
from tests.integration.helpers import run_lab

SOURCE = Path(__file__).parent / "clients" / "JavaGet.java"
#: what HttpClient fails, and why (each one a finding a Java team would want)
FAILS = {
    **{name: "Basic over CONNECT is disabled by default" for name in (
        "basic-https", "ldap-https", "group-https", "corp-ntlm-https",
        "corp-basic-only-https")},
    **{name: "java.net.http speaks no NTLM or Negotiate" for name in (
        "negotiate", "negotiate-https", "ntlm", "ntlm-https", "ntlm-challenge-close",
        "corp-kerberos", "corp-kerberos-https")},
    "socks5": "HttpClient ignores the SOCKS properties",
    **{name: "no PAC engine" for name in NEEDS_PAC},
    "lockout-budget": "four wrong passwords: it retries a refused one three times",
}


@pytest.fixture(scope="module")
def java_get(tool, tmp_path_factory):
    classes = tmp_path_factory.mktemp("java")
    subprocess.run([tool("javac"), "-d", str(classes), str(SOURCE)], check=True, timeout=120)
    return [tool("java"), "-cp", str(classes), "JavaGet", "{url}"]


def matrix(names, command):
    proc = run_lab("matrix", "--json", "--only", ",".join(names), "--", *command, timeout=300)
    doc = json.loads(proc.stdout)
    return {s["name"]: s for s in doc["scenarios"]}


def test_java_through_proxy_tls_inspection_and_its_known_failures(lab_endpoints, java_get):
    names = ["basic", "basic-https", "bump-chain", "tls-untrusted", "no-proxy",
             "lockout-budget", "socks5"]
    runs = matrix(names, java_get)
    failed = {name for name, run in runs.items() if run["verdict"] == "fail"}
    assert failed == {name for name in names if name in FAILS}, runs
    assert "4 wrong passwords" in runs["lockout-budget"]["got"]
    assert runs["tls-untrusted"]["exit_code"] == 60        # Java's own cacerts: refused


@pytest.mark.slow           # forty JVMs, four per CPU: make test-full
def test_java_over_the_whole_catalogue_fails_exactly_what_it_cannot_do(lab_endpoints,
                                                                      java_get):
    names = [n for n in NAMES if spec(n).pause is None]
    runs = matrix(names, java_get)
    failed = {name for name, run in runs.items() if run["verdict"] == "fail"}
    assert failed == set(FAILS), {n: runs[n]["reason"] for n in failed ^ set(FAILS)}
