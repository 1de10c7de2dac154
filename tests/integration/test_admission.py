"""A lab published beyond loopback admits only LAB_ALLOW and this host (issue 22): a
private lab published on this host's own network address, reached by real clients
from a network namespace of their own (another machine, as far as the lab can tell)
and from this host. The foreign client is refused on every kind of port, each by the
part that sees it (the fault layer, bind, the DC's firewall), until LAB_ALLOW names it;
this host is let in throughout."""

import ipaddress
import json
import subprocess

import pytest

from lab.config.discovery import load_config
from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import other_host_address, remove_private_lab, run_lab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PROJECT = "lab-admission-test"
SUBNET = "172.29.59.0/24"
NOBODY = "198.51.100.0/24"       # TEST-NET-2: no client here
NAMESPACE = "lab-admission-client"
#: the foreign client's link to this host: its address, and this host's end
FOREIGN, HOST_END = "10.213.7.2", "10.213.7.1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def foreign():
    """A network namespace linked to this host by a veth pair: its clients arrive at
    this host's address from FOREIGN, routed (so docker's DNAT keeps their address)."""
    subprocess.run(["ip", "netns", "delete", NAMESPACE], capture_output=True, timeout=30)
    _ip("netns", "add", NAMESPACE)
    try:
        _ip("link", "add", "lab-adm-host", "type", "veth", "peer", "name", "lab-adm-ns")
        _ip("link", "set", "lab-adm-ns", "netns", NAMESPACE)
        _ip("addr", "add", f"{HOST_END}/30", "dev", "lab-adm-host")
        _ip("link", "set", "lab-adm-host", "up")
        for args in (("addr", "add", f"{FOREIGN}/30", "dev", "lab-adm-ns"),
                     ("link", "set", "lab-adm-ns", "up"), ("link", "set", "lo", "up"),
                     ("route", "add", "default", "via", HOST_END)):
            _ip("netns", "exec", NAMESPACE, "ip", *args)
        yield ["ip", "netns", "exec", NAMESPACE]
    finally:
        subprocess.run(["ip", "netns", "delete", NAMESPACE], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "delete", "lab-adm-host"], capture_output=True,
                       timeout=30)


@pytest.fixture(scope="module")
def published():
    address = other_host_address(ipaddress.ip_network(SUBNET))
    env = {**side_by_side_env(PROJECT, SUBNET), "LAB_BIND": address}
    yield env, address
    remove_private_lab(env)


def _attempts(env, address, prefix=()) -> dict[str, int]:
    """Exit codes of a real client on each kind of published port (`prefix`: run it
    in the foreign namespace)."""
    ports = {name[len("LAB_PORT_"):].lower(): value for name, value in env.items()
             if name.startswith("LAB_PORT_")}

    def run(*cmd: str) -> int:
        return subprocess.run([*prefix, *cmd], capture_output=True, timeout=60).returncode

    return {
        "proxy (fault layer)": run("curl", "-sS", "-o", "/dev/null", "--max-time", "10", "-f",
                                   "-x", f"http://{address}:{ports['proxy_noauth']}",
                                   "http://web.ad.example.com/simpleresource"),
        "dns (bind)": run("sh", "-c", f"dig +time=3 +tries=1 -p {ports['dns']} @{address} "
                          "ad.example.com SOA | grep -q 'status: NOERROR'"),
        "ldap (the DC's firewall)": run("ldapsearch", "-x", "-o", "nettimeout=5", "-H",
                                        f"ldap://{address}:{ports['ldap']}", "-b", "",
                                        "-s", "base", "defaultNamingContext"),
    }


def test_lab_allow_decides_who_gets_in_on_every_port(published, foreign):
    env, address = published
    refused = {**env, "LAB_ALLOW": NOBODY}
    up = run_lab("up", env=refused, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    outside = _attempts(refused, address, foreign)
    assert all(code != 0 for code in outside.values()), outside
    here = _attempts(refused, address)
    assert all(code == 0 for code in here.values()), here         # this host: always
    logs = run_lab("logs", "faults", env=refused, timeout=60).stdout
    assert f"refused {FOREIGN} on proxy_noauth: not in the admitted networks" in logs
    dns_log = run_lab("logs", "dns", env=refused, timeout=60).stdout.splitlines()
    assert any(f"{FOREIGN}#" in line and "denied" in line for line in dns_log)

    admitted = {**env, "LAB_ALLOW": f"{NOBODY},{FOREIGN}"}
    up = run_lab("up", env=admitted, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    outside = _attempts(admitted, address, foreign)
    assert all(code == 0 for code in outside.values()), outside


def test_the_packaged_passwords_are_refused_and_the_generated_ones_work(published, foreign):
    """Beyond loopback the lab's passwords are its own (lab.config.generated): the
    packaged ones, public in this repository, get a client from the network nowhere."""
    env, address = published
    admitted = {**env, "LAB_ALLOW": f"{NOBODY},{FOREIGN}"}
    up = run_lab("up", env=admitted, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    status = json.loads(run_lab("status", "--json", env=admitted, timeout=60).stdout)
    packaged = load_config(environ={"LAB_STATE_HOME": "/nonexistent"})
    alice = packaged.user("alice")
    for port in ("basic", "ldap", "ntlm"):
        given = status["proxy"][port]
        assert given["username"] == "alice" and given["password"] != alice.password
        for password, code in ((alice.password, "407"), (given["password"], "200")):
            extra = ["--proxy-ntlm", "-U", f"AD\\alice:{password}"] if port == "ntlm" \
                else ["-U", f"alice:{password}"]
            got = subprocess.run(
                [*foreign, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                 "--max-time", "10", *extra, "-x", f"http://{address}:{given['port']}",
                 "http://web.ad.example.com/simpleresource"],
                capture_output=True, text=True, timeout=30).stdout
            assert got == code, (port, got)
    bind = subprocess.run([*foreign, "ldapsearch", "-x", "-o", "nettimeout=5", "-H",
                           f"ldap://{address}:{status['dc']['ldap']['port']}",
                           "-D", f"Administrator@{packaged.domain}", "-w",
                           packaged.admin_password, "-b", "", "-s", "base"],
                          capture_output=True, text=True, timeout=30)
    assert bind.returncode == 49, bind.stderr              # invalid credentials
