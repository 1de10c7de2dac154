"""The sync client against the lab: one test per corporate situation, through the lab
plugin's `lab_scenario` fixture, for the Python client and for the shell script.

Nothing here starts or configures the lab: the plugin finds this project's lab.toml
(from pytest's rootdir) and attaches to its lab, or brings it up for the session.
"""

import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import requests

from lab.scenarios import SPECS

PROJECT = Path(__file__).resolve().parent.parent
#: Neither client evaluates a PAC file (`pac` gives only the PAC's URL): not theirs to
#: pass. Scenarios that pause a lab service (dc-down) run under `lab matrix` only.
WITHOUT_PAC = [spec.name for spec in SPECS if not spec.pac and spec.pause is None]
#: requests does Basic proxy authentication only: getting through the NTLM and Negotiate
#: ports, or with nothing but a Kerberos ticket, is not its to pass (being refused there
#: is; the company port's Basic it passes; SOCKS5 it does, with requests[socks]).
BASIC_ONLY = [spec.name for spec in SPECS if spec.name in WITHOUT_PAC
              and not (spec.expect == "ok" and (spec.port in ("ntlm", "negotiate")
                                                or spec.credentials == "kerberos"))]


def _judge(lab_scenario, proc, directory: Path) -> None:
    verdict = lab_scenario.verdict(proc.returncode)
    assert verdict.passed, f"{verdict.reason}\n{proc.stdout}{proc.stderr}"
    synced = [p for p in directory.iterdir() if not p.name.startswith(".")]
    assert bool(synced) == (lab_scenario.expect == "ok")          # nothing half-written


@pytest.mark.lab_scenarios(*BASIC_ONLY)
def test_python_client(lab_scenario, tmp_path):
    proc = subprocess.run([sys.executable, str(PROJECT / "sync_client.py"), lab_scenario.url,
                           str(tmp_path)], env=lab_scenario.environ(), capture_output=True,
                          text=True, timeout=60)
    _judge(lab_scenario, proc, tmp_path)


#: curl's --proxy-anyauth takes the strongest scheme offered and stays with it: offered
#: Negotiate first and holding no ticket for the proxy's name, it never moves on to the
#: NTLM or Basic its password would pass (curl/curl#3726). What the lab found in sync.sh;
#: a fix turns these into XPASS.
CURL_ANYAUTH_STUCK = {name: "curl --proxy-anyauth stays on Negotiate without a ticket"
                      for name in ("corp-ntlm", "corp-ntlm-https", "corp-basic-only",
                                   "corp-basic-only-https", "negotiate-alias")}


@pytest.mark.lab_scenarios(*WITHOUT_PAC, known_failures=CURL_ANYAUTH_STUCK)
def test_shell_client(lab_scenario, tmp_path):
    proc = subprocess.run(["sh", str(PROJECT / "sync.sh"), lab_scenario.url, str(tmp_path)],
                          env=lab_scenario.environ(), capture_output=True, text=True,
                          timeout=60)
    _judge(lab_scenario, proc, tmp_path)


@pytest.mark.parametrize("port", ["basic", "ldap", "group"])
def test_this_projects_own_user_gets_through(lab_config, lab_endpoints, port):
    """syncbot comes from this project's lab.toml, not the lab's default."""
    user = lab_config.user("syncbot")
    proxy = lab_endpoints.proxy[port]
    credentials = f"{user.name}:{urllib.parse.quote(user.password, safe='')}"
    session = requests.Session()
    session.trust_env = False                  # this test's proxy only, not the shell's
    response = session.get(lab_endpoints.web.proxy_url + "simpleresource", timeout=15,
                           proxies={"http": f"http://{credentials}@{proxy.host}:{proxy.port}"})
    assert response.status_code == 200
