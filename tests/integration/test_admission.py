"""A lab published beyond loopback admits only LAB_ALLOW (issue 22): a private lab on
this host's own network address, first with LAB_ALLOW naming another network (this
host's clients are refused on every kind of port, each by the part that sees them: the
fault layer, bind, the DC's firewall), then naming this host (they get through)."""

import subprocess

import pytest

from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import other_host_address, remove_private_lab, run_lab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PROJECT = "lab-admission-test"
SUBNET = "172.29.59.0/24"
NOBODY = "198.51.100.0/24"       # TEST-NET-2: no client here


@pytest.fixture(scope="module")
def published():
    import ipaddress

    address = other_host_address(ipaddress.ip_network(SUBNET))
    env = {**side_by_side_env(PROJECT, SUBNET), "LAB_BIND": address}
    yield env, address
    remove_private_lab(env)


def _ports(env) -> dict[str, int]:
    return {name[len("LAB_PORT_"):].lower(): int(value) for name, value in env.items()
            if name.startswith("LAB_PORT_")}


def _attempts(env, address) -> dict[str, int]:
    """Exit codes of a real client on each kind of published port."""
    ports = _ports(env)
    run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True,  # noqa: E731
                                      timeout=60).returncode
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


def test_lab_allow_decides_who_gets_in_on_every_port(published):
    env, address = published
    refused = {**env, "LAB_ALLOW": NOBODY}
    up = run_lab("up", env=refused, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    attempts = _attempts(refused, address)
    assert all(code != 0 for code in attempts.values()), attempts
    logs = run_lab("logs", "faults", env=refused, timeout=60).stdout
    assert f"refused {address} on proxy_noauth: not in the admitted networks" in logs
    assert "denied" in run_lab("logs", "dns", env=refused, timeout=60).stdout

    admitted = {**env, "LAB_ALLOW": f"{NOBODY},{address}"}
    up = run_lab("up", env=admitted, timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    attempts = _attempts(admitted, address)
    assert all(code == 0 for code in attempts.values()), attempts
