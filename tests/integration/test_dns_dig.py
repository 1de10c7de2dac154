"""dig against the lab's bind: the static AD records and the DC's own registrations."""

import subprocess

import pytest


def dig(tool, endpoints, name, rtype="SRV", *extra):
    dns = endpoints.dns
    cmd = [tool("dig"), "+time=2", "+tries=2", "-p", str(dns.port), f"@{dns.host}",
           *extra, name, rtype]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=15, check=True).stdout


def srv(tool, endpoints, name):
    out = dig(tool, endpoints, f"{name}.{endpoints.dc.domain}", "SRV", "+short")
    return sorted(tuple(line.split()) for line in out.splitlines() if line.strip())


@pytest.mark.parametrize("name,port", [
    ("_ldap._tcp", "389"),
    ("_kerberos._tcp", "88"),
    ("_ldap._tcp.dc._msdcs", "389"),
    ("_kerberos._tcp.dc._msdcs", "88"),
    ("_ldap._tcp.gc._msdcs", "3268"),
    ("_gc._tcp", "3268"),
    ("gc._msdcs", "3268"),
])
def test_ad_srv_records(tool, lab_endpoints, name, port):
    dc = lab_endpoints.dc.hostname + "."
    assert (("0", "100", port, dc),) == tuple(srv(tool, lab_endpoints, name))


def test_dc_address_record(tool, lab_endpoints, lab_config):
    out = dig(tool, lab_endpoints, lab_endpoints.dc.hostname, "A", "+short")
    assert out.split() == [lab_config.address("dc")]


@pytest.mark.parametrize("name", ["_kpasswd._tcp", "_ldap._tcp.pdc._msdcs"])
def test_records_only_the_dcs_dynamic_update_creates(tool, lab_endpoints, name):
    # Not in the static zone file (images/dns/zone.template): samba registered them, and
    # the DC is not ready (nor `lab up` done) until bind answers every one of them.
    assert srv(tool, lab_endpoints, name)[0][3] == lab_endpoints.dc.hostname + "."


def test_the_proxy_has_an_alias_as_companies_publish_theirs(tool, lab_endpoints, lab_config):
    out = dig(tool, lab_endpoints, f"webproxy.{lab_endpoints.dc.domain}", "A", "+short")
    assert out.split() == [lab_config.proxy_fqdn + ".", lab_config.address("proxy")]


def test_no_recursion_for_other_zones(tool, lab_endpoints):
    out = dig(tool, lab_endpoints, "debian.org", "A")
    assert "status: REFUSED" in out       # recursion is off: not even an empty answer


def test_zone_transfer_refused(tool, lab_endpoints):
    out = dig(tool, lab_endpoints, lab_endpoints.dc.domain, "AXFR")
    assert "Transfer failed." in out
    assert " SOA " not in out and "XFR size" not in out     # not one record of the zone
