"""`lab status --json`: the machine-readable truth, checked against the running lab."""

import json
import subprocess

from lab.config.topology import PORTS, PROXY_PORTS
from tests.integration.helpers import run_lab


def test_status_json_shape(lab_endpoints, lab_config):
    proc = run_lab("status", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    scenarios = data.pop("scenarios")          # the catalogue, then endpoints
    assert [s["name"] for s in scenarios][:3] == ["noauth", "noauth-https", "basic"]
    # every published port, as the engine itself reports it (the docker CLI, not lab's
    # SDK code) and as lab.toml sets it
    published = {"dns": data["dns"]["port"], "ldap": data["dc"]["ldap"]["port"],
                 "kerberos": data["dc"]["kerberos"]["port"],
                 **{f"proxy_{name}": data["proxy"][name]["port"] for name in PROXY_PORTS}}
    for port in PORTS:
        if port.name not in published:
            continue
        assert published[port.name] == lab_config.ports[port.name], port.name
        container = f"{lab_config.project}-{port.service}-1"
        engine = subprocess.run(["docker", "port", container, f"{port.container_port}/tcp"],
                                capture_output=True, text=True, timeout=30, check=True)
        assert engine.stdout.split() == [f"127.0.0.1:{published[port.name]}"], port.name
    for name in ("noauth", "basic", "ldap"):
        entry = data["proxy"][name]
        assert entry["host"] == "127.0.0.1" and isinstance(entry["port"], int)
    for name in ("basic", "ldap"):
        assert data["proxy"][name]["username"] and "\\" not in data["proxy"][name]["username"]
        assert "@" not in data["proxy"][name]["username"] and data["proxy"][name]["password"]
    assert "username" not in data["proxy"]["noauth"]
    assert isinstance(data["dns"]["port"], int)
    assert isinstance(data["dc"]["ldap"]["port"], int)
    assert isinstance(data["dc"]["kerberos"]["port"], int)
    assert data["dc"]["realm"] == "AD.EXAMPLE.COM"
    assert data["web"]["url"].endswith("/") and data["web"]["proxy_url"].endswith("/")


def test_status_json_without_a_lab_fails_with_one_line(lab_endpoints):
    proc = run_lab("status", "--json", env={"LAB_PROJECT": "no-such-lab-here"})
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no-such-lab-here" in proc.stderr and "lab-up" in proc.stderr


def test_second_up_is_a_no_op(lab_endpoints):
    proc = run_lab("up")
    assert proc.returncode == 0, proc.stderr
    assert "already up" in proc.stderr
    assert "building" not in proc.stderr


def test_check_passes(lab_endpoints):
    proc = run_lab("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout


def test_up_with_check_brings_the_lab_up_then_checks_it_in_one_command(lab_endpoints):
    proc = run_lab("up", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table, _, checks = proc.stdout.partition("\nok   ")
    assert table.startswith("what ") and "proxy noauth" in table
    assert "FAIL" not in checks and checks.count("\nok   ") >= 5, checks


def test_logs_of_one_service(lab_endpoints):
    proc = run_lab("logs", "proxy")
    assert proc.returncode == 0
    assert "squid" in proc.stdout.lower() or "accepting" in proc.stdout.lower()
