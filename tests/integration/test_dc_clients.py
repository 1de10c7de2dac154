"""ldapsearch and kinit against the published DC, as a user would."""

import os
import subprocess

import pytest

from lab.clients.ad import krb5_conf
from lab.config.discovery import load_config


def ldapsearch(tool, endpoints, user, password, *query):
    ldap = endpoints.dc.ldap
    cmd = [tool("ldapsearch"), "-x", "-o", "nettimeout=5", "-H",
           f"ldap://{ldap.host}:{ldap.port}",
           "-D", f"{user}@{endpoints.dc.realm}", "-w", password, *query]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=15)


@pytest.fixture
def domain_user(lab_endpoints):
    proxy = lab_endpoints.proxy["ldap"]
    return proxy.username, proxy.password


def test_simple_bind_and_search(tool, lab_endpoints, domain_user):
    config = load_config()
    proc = ldapsearch(tool, lab_endpoints, *domain_user,
                      "-b", lab_endpoints.dc.base_dn, "(objectClass=user)", "sAMAccountName")
    assert proc.returncode == 0, proc.stderr
    found = {line.split(": ", 1)[1] for line in proc.stdout.splitlines()
             if line.startswith("sAMAccountName: ")}
    assert {u.name for u in config.users if u.in_domain} <= found
    assert not {u.name for u in config.users if not u.in_domain} & found


def test_group_membership_comes_from_lab_toml(tool, lab_endpoints, domain_user):
    config = load_config()
    group = config.groups[0]
    proc = ldapsearch(tool, lab_endpoints, *domain_user, "-b", lab_endpoints.dc.base_dn,
                      f"(&(objectClass=group)(cn={group.name}))", "member")
    assert proc.returncode == 0, proc.stderr
    members = {line.split("CN=", 1)[1].split(",", 1)[0].lower()
               for line in proc.stdout.splitlines() if line.startswith("member: ")}
    assert members == {u.name for u in config.users if group.name in u.groups}


def test_simple_bind_with_wrong_password_fails(tool, lab_endpoints, domain_user):
    proc = ldapsearch(tool, lab_endpoints, domain_user[0], "wrong-" + domain_user[1],
                      "-b", "", "-s", "base")
    assert proc.returncode == 49, proc.stdout + proc.stderr   # invalidCredentials


@pytest.fixture
def krb5_env(tmp_path, lab_endpoints):
    kdc = lab_endpoints.dc.kerberos
    realm = lab_endpoints.dc.realm
    conf = tmp_path / "krb5.conf"
    conf.write_text(krb5_conf(realm, kdc.host, kdc.port))   # then plain kinit/klist
    return {**os.environ, "KRB5_CONFIG": str(conf),
            "KRB5CCNAME": f"FILE:{tmp_path / 'ccache'}"}


def test_kinit_gets_a_ticket(tool, lab_endpoints, domain_user, krb5_env):
    user, password = domain_user
    principal = f"{user}@{lab_endpoints.dc.realm}"
    subprocess.run([tool("kinit"), principal], input=password + "\n", text=True,
                   env=krb5_env, capture_output=True, timeout=15, check=True)
    klist = subprocess.run([tool("klist")], env=krb5_env, capture_output=True, text=True,
                           timeout=15, check=True).stdout
    assert f"krbtgt/{lab_endpoints.dc.realm}@{lab_endpoints.dc.realm}" in klist


def test_kinit_with_wrong_password_fails(tool, lab_endpoints, domain_user, krb5_env):
    user, password = domain_user
    proc = subprocess.run([tool("kinit"), f"{user}@{lab_endpoints.dc.realm}"],
                          input="wrong-" + password + "\n", text=True, env=krb5_env,
                          capture_output=True, timeout=15)
    assert proc.returncode != 0
    assert "Password incorrect" in proc.stderr or "Preauthentication failed" in proc.stderr


def test_the_dcs_ldap_service_has_its_kerberos_name(tool, lab_endpoints, domain_user,
                                                     krb5_env):
    """A Kerberos LDAP bind to the DC (`net ads join`, `ldapsearch -Y GSSAPI`, an AD
    client's own) first asks the KDC for ldap/<the DC's name>: a real DC holds it."""
    user, password = domain_user
    subprocess.run([tool("kinit"), f"{user}@{lab_endpoints.dc.realm}"],
                   input=password + "\n", text=True, env=krb5_env, capture_output=True,
                   timeout=15, check=True)
    service = f"ldap/{lab_endpoints.dc.hostname}"
    proc = subprocess.run([tool("kvno"), service], env=krb5_env, capture_output=True,
                          text=True, timeout=15)
    assert proc.returncode == 0, proc.stderr
    assert f"{service}@{lab_endpoints.dc.realm}: kvno = " in proc.stdout
