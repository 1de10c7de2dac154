"""lab.clients.ad against the lab's bind and KDC; the CLI commands built on it."""

import os
import subprocess

import pytest

from lab.clients.ad import DomainNotFound, NoRecords, discover_domain_controllers, kinit
from lab.errors import KerberosError
from tests.integration.helpers import run_lab


def discover(endpoints, domain=None):
    dns = endpoints.dns
    return discover_domain_controllers(domain or endpoints.dc.domain, dns.host,
                                       dns.port)


def test_discovers_dc1_with_the_ports_the_records_carry(lab_endpoints):
    found = discover(lab_endpoints)
    dc = lab_endpoints.dc.hostname
    assert [(s.target, s.port) for s in found.ldap] == [(dc, 389)]
    assert [(s.target, s.port) for s in found.kerberos] == [(dc, 88)]
    assert [(s.target, s.port) for s in found.global_catalog] == [(dc, 3268)]
    assert len(found.ldap[0].addresses) == 1


def test_nxdomain_is_named(lab_endpoints):
    with pytest.raises(DomainNotFound, match="NXDOMAIN"):
        discover(lab_endpoints, "nope." + lab_endpoints.dc.domain)


def test_no_answer_is_named(lab_endpoints):
    from lab.clients.ad import make_resolver, query

    dns = lab_endpoints.dns
    with pytest.raises(NoRecords, match="no SRV record"):
        query(make_resolver(dns.host, dns.port), lab_endpoints.dc.hostname, "SRV")


def test_kinit_helper_uses_a_private_cache(lab_endpoints, tmp_path):
    ldap_user = lab_endpoints.proxy["ldap"]
    kdc = lab_endpoints.dc.kerberos
    session = kinit(ldap_user.username, ldap_user.password, lab_endpoints.dc.realm,
                    kdc.host, kdc.port, directory=tmp_path)
    assert session.ccache.is_file() and session.ccache.parent == tmp_path
    klist = subprocess.run(["klist"], env={**os.environ, **session.env}, capture_output=True,
                           text=True, timeout=15, check=True).stdout
    assert session.principal in klist


def test_kinit_helper_wrong_password_hides_it(lab_endpoints, tmp_path):
    kdc = lab_endpoints.dc.kerberos
    with pytest.raises(KerberosError) as info:
        kinit(lab_endpoints.proxy["ldap"].username, "Wrong-Secret-9",
              lab_endpoints.dc.realm, kdc.host, kdc.port, directory=tmp_path)
    assert "Wrong-Secret-9" not in str(info.value)


lab = run_lab


def test_lab_dns(lab_endpoints):
    proc = lab("dns", "_ldap._tcp." + lab_endpoints.dc.domain, "SRV")
    assert proc.returncode == 0, proc.stderr
    assert "389 " + lab_endpoints.dc.hostname in proc.stdout


def test_lab_dns_nxdomain_is_one_line(lab_endpoints):
    proc = lab("dns", "nope." + lab_endpoints.dc.domain)
    assert proc.returncode == 1 and "NXDOMAIN" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_lab_ad_users(lab_endpoints):
    proc = lab("ad", "users")
    assert proc.returncode == 0
    assert "alice" in proc.stdout and "group proxy-users: alice" in proc.stdout


def test_lab_ad_kinit_prints_exports(lab_endpoints):
    proc = lab("ad", "kinit", lab_endpoints.proxy["ldap"].username)
    assert proc.returncode == 0, proc.stderr
    exports = dict(line[len("export "):].split("=", 1) for line in proc.stdout.splitlines())
    assert set(exports) == {"KRB5CCNAME", "KRB5_CONFIG"}
    klist = subprocess.run(["klist"], env={**os.environ, **exports}, capture_output=True,
                           text=True, timeout=15)
    assert klist.returncode == 0


def test_domain_controllers_fixture(lab_domain_controllers, lab_endpoints):
    assert lab_domain_controllers.kerberos[0].target == lab_endpoints.dc.hostname


def test_lab_status_reports_the_dcs_dns_registrations(lab_endpoints):
    proc = lab("status")
    assert proc.returncode == 0, proc.stderr
    assert "dc dynamic DNS registrations in bind: arrived" in proc.stdout
