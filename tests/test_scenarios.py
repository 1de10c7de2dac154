"""The scenario catalogue: names, expectations, and the environment of each scenario.

No lab: the endpoints are built from lab.toml's default ports, and `kinit` (a
client of the real KDC) is replaced by one that writes a ticket cache file.
"""

import dataclasses
import socket
import urllib.parse
from pathlib import Path

import pytest

from lab.clients import ad
from lab.config.discovery import load_config
from lab.endpoints import build_endpoints
from lab.errors import LabError
from lab.scenarios import clientenv
from lab.scenarios.catalogue import (
    NAMES,
    REFUSALS,
    SPECS,
    UnknownScenario,
    describe,
    select,
    spec,
    split_exclusive,
)
from lab.scenarios.clientenv import CA_VARIABLES, MANAGED_VARIABLES
from lab.scenarios.scenario import build_scenarios
from tests.test_endpoints import PORTS

LAB_CA = b"-----BEGIN CERTIFICATE-----\nLABCA\n-----END CERTIFICATE-----\n"
CORPORATE_CA = b"-----BEGIN CERTIFICATE-----\nCORPORATE\n-----END CERTIFICATE-----\n"
ISSUING_CA = b"-----BEGIN CERTIFICATE-----\nISSUING\n-----END CERTIFICATE-----\n"
REQUIRED = ("noauth", "basic", "basic-wrong-password", "basic-no-credentials", "ldap",
            "negotiate", "ntlm", "group", "group-denied", "no-proxy", "proxy-down")


@pytest.fixture(autouse=True)
def no_keytool(monkeypatch):
    """These CA files are stand-ins keytool would refuse: no Java trust stores here
    (tests/test_jvm.py makes real ones)."""
    from lab.scenarios import jvm

    monkeypatch.setattr(jvm.shutil, "which", lambda name: None)


@pytest.fixture
def endpoints(tmp_path):
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path / "state")})
    config.state_dir.mkdir(parents=True)
    (config.state_dir / "web-ca.pem").write_bytes(LAB_CA)
    (config.state_dir / "corporate-ca.pem").write_bytes(CORPORATE_CA)
    (config.state_dir / "corporate-issuing-ca.pem").write_bytes(ISSUING_CA)
    return build_endpoints(config, PORTS)


@pytest.fixture
def kinits(monkeypatch):
    """Replaces kinit: records its calls, writes a krb5.conf and a ccache file."""
    calls = []

    def fake_kinit(user, password, realm, kdc_host, kdc_port, directory=None, timeout=15,
                   extra_hosts=()):
        calls.append((user, realm, kdc_host, kdc_port, extra_hosts))
        where = Path(directory)
        where.mkdir(parents=True, exist_ok=True)
        (where / "krb5.conf").write_text(ad.krb5_conf(realm, kdc_host, kdc_port, extra_hosts))
        (where / "ccache").write_bytes(b"ticket")
        return ad.KerberosSession(f"{user}@{realm}", where / "ccache", where / "krb5.conf")

    monkeypatch.setattr(ad, "kinit", fake_kinit)
    return calls


class FakeDirectory:
    """Stands in for lab.clients.directory.Directory (a client of the real DC's LDAP):
    records what the lab asked of it, counts what it is told."""

    def __init__(self, count=0):
        self.calls, self.count = [], count

    def lock(self, user, threshold):
        self.calls.append(("lock", user, threshold))

    def unlock(self, user):
        self.calls.append(("unlock", user))

    def bad_password_count(self, user):
        self.calls.append(("count", user))
        return self.count


@pytest.fixture
def directory():
    return FakeDirectory()


@pytest.fixture
def catalogue(endpoints, kinits, directory, tmp_path):
    gateways = {spec.name: 40000 + i for i, spec in enumerate(SPECS) if spec.fault}
    built = build_scenarios(endpoints, run="r1", workdir=tmp_path / "work", down_port=1,
                            gateways=gateways, exclusive=True, directory=directory)
    return {s.name: s for s in built}


def _userinfo(proxy_url):
    parts = urllib.parse.urlsplit(proxy_url)
    return (urllib.parse.unquote(parts.username) if parts.username else None,
            urllib.parse.unquote(parts.password) if parts.password else None,
            parts.hostname, parts.port)


def test_catalogue_has_every_scenario_the_issue_names_plus_https_variants():
    assert len(set(NAMES)) == len(NAMES)
    for name in REQUIRED:
        assert name in NAMES
    for port in ("basic", "ldap", "negotiate", "ntlm", "group"):
        assert f"{port}-https" in NAMES
    assert {s.expect for s in SPECS} <= {"ok", *REFUSALS}


def test_describe_is_what_status_json_lists():
    entries = describe("AD", "AD.EXAMPLE.COM")
    assert [e["name"] for e in entries] == list(NAMES)
    assert all(set(e) == {"name", "description", "expect"} for e in entries)
    ntlm = next(e for e in entries if e["name"] == "ntlm")["description"]
    assert "AD\\user" in ntlm and "user@AD.EXAMPLE.COM" in ntlm


def test_select_keeps_catalogue_order_and_rejects_unknown_names():
    assert select(["ntlm", "basic"]) == ["basic", "ntlm"]
    assert "basic" not in select(skip=["basic"])
    with pytest.raises(UnknownScenario, match="no scenario 'nope'.*noauth"):
        select(["nope"])
    with pytest.raises(UnknownScenario, match="no scenario"):
        select(skip=["nope"])
    with pytest.raises(UnknownScenario, match="leave no scenario"):
        select(["basic"], ["basic"])


def test_every_scenario_sets_both_proxy_cases_ca_variables_and_urls(catalogue, endpoints):
    state = Path(endpoints.web.ca_cert).parent
    bundle = {"lab": state / "ca-bundle.pem", "corporate": state / "ca-corporate.pem",
              "corporate-root": state / "ca-corporate-root.pem",
              "system": state / "ca-system.pem"}
    for s in catalogue.values():
        env = s.env
        if not spec(s.name).pac:
            assert env["http_proxy"] == env["https_proxy"] == env["HTTP_PROXY"] \
                == env["HTTPS_PROXY"]
        assert set(CA_VARIABLES) <= set(env)
        assert env["LAB_URL"] == s.url and env["LAB_HTTPS_URL"] == s.https_url
        assert env["LAB_SCENARIO"] == s.name and env["LAB_EXPECT"] == s.expect
        assert s.url.startswith(s.scheme + "://") and s.https_url.startswith("https://")
        assert s.token == f"/matrix/r1/{s.name}"
        assert s.url.split("?")[0].endswith(s.token)
        assert set(env) <= set(MANAGED_VARIABLES)
        assert {env[v] for v in CA_VARIABLES} == {str(bundle[spec(s.name).trust])}


def test_tls_inspection_scenarios_trust_the_corporate_ca_or_only_the_origins(catalogue):
    trusted, untrusted, exempt = (catalogue[n] for n in
                                  ("bump-trusted", "bump-untrusted", "bump-exempt"))
    for s in (trusted, untrusted, exempt):
        assert _userinfo(s.env["https_proxy"]) == (None, None, "127.0.0.1", 3134)
        assert s.scheme == "https"
    corporate = Path(trusted.env["SSL_CERT_FILE"]).read_bytes()
    assert CORPORATE_CA in corporate and ISSUING_CA in corporate and LAB_CA not in corporate
    root_only = Path(catalogue["bump-chain"].env["SSL_CERT_FILE"]).read_bytes()
    assert CORPORATE_CA in root_only and ISSUING_CA not in root_only      # from the proxy
    assert LAB_CA in Path(untrusted.env["SSL_CERT_FILE"]).read_bytes()
    assert (trusted.expect, untrusted.expect, exempt.expect) == ("ok", "tls-untrusted", "ok")
    assert exempt.url == "https://bank.ad.example.com/matrix/r1/bump-exempt"


def test_pac_scenario_gives_only_the_pac_url(catalogue, endpoints):
    env = catalogue["pac"].env
    assert env["auto_proxy"] == env["LAB_PAC_URL"] == "http://127.0.0.1:8080/proxy.pac"
    assert not {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"} & set(env)
    assert catalogue["pac"].url == "http://web.ad.example.com/matrix/r1/pac"


def test_pac_scenarios_give_the_pac_and_what_it_cannot_carry(catalogue, endpoints):
    proxies = {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
               "no_proxy", "NO_PROXY"}
    for name in ("pac-failover", "pac-direct", "pac-auth"):
        env = catalogue[name].env
        assert env["auto_proxy"] == env["LAB_PAC_URL"] == endpoints.pac_url, name
        assert not proxies & set(env), name
    assert catalogue["pac-failover"].url == "http://failover.ad.example.com/matrix/r1/pac-failover"
    assert catalogue["pac-direct"].url == "http://127.0.0.1:8080/matrix/r1/pac-direct"
    assert catalogue["pac-direct"].direct
    auth = catalogue["pac-auth"]
    assert auth.url == "http://secure.ad.example.com/matrix/r1/pac-auth"
    corp = endpoints.proxy["corp"]
    assert (auth.env["LAB_PROXY_USER"], auth.env["LAB_PROXY_PASSWORD"]) == \
        (corp.username, corp.password)
    assert "LAB_PROXY_USER" not in catalogue["pac"].env


def test_socks_scenarios_name_socks5h_with_credentials_in_every_proxy_variable(catalogue):
    ok, wrong = catalogue["socks5"], catalogue["socks5-wrong-password"]
    for s in (ok, wrong):
        assert s.env["all_proxy"] == s.env["ALL_PROXY"] == s.env["http_proxy"]
        assert s.env["http_proxy"].startswith("socks5h://")
        assert s.credential is None           # dante caches no credential: may overlap
    assert _userinfo(ok.env["all_proxy"]) == ("alice", "Rabbit-Hole-2024", "127.0.0.1", 1080)
    assert _userinfo(wrong.env["all_proxy"])[1] != "Rabbit-Hole-2024"
    assert wrong.expect == "proxy-auth"


def test_proxied_urls_use_the_lab_name_and_https_variants_fetch_https(catalogue):
    assert catalogue["basic"].url == "http://web.ad.example.com/matrix/r1/basic"
    assert catalogue["basic-https"].url == "https://web.ad.example.com/matrix/r1/basic-https"
    assert catalogue["basic-https"].scheme == "https"


def test_basic_style_ports_carry_percent_encoded_credentials(catalogue):
    assert _userinfo(catalogue["basic"].env["http_proxy"]) == (
        "alice", "Rabbit-Hole-2024", "127.0.0.1", 3129)
    assert _userinfo(catalogue["ldap"].env["http_proxy"])[3] == 3130
    user, password, _, _ = _userinfo(catalogue["group-denied"].env["http_proxy"])
    assert (user, password) == ("bob", "Marmalade-77!")
    assert "Marmalade-77%21@" in catalogue["group-denied"].env["http_proxy"]
    # another user than the port's: its wrong password spoils none of alice's requests
    user, password, _, _ = _userinfo(catalogue["basic-wrong-password"].env["http_proxy"])
    assert (user, password) == ("frank", "Not-Their-Password-1")
    assert _userinfo(catalogue["basic-no-credentials"].env["http_proxy"])[:2] == (None, None)


def test_reserved_characters_in_passwords_are_encoded(endpoints, kinits, tmp_path):
    tricky = "p@ss:w/rd%?#"
    proxy = dict(endpoints.proxy)
    proxy["basic"] = dataclasses.replace(proxy["basic"], password=tricky)
    s = build_scenarios(dataclasses.replace(endpoints, proxy=proxy), ["basic"], run="r",
                        workdir=tmp_path / "w")[0]
    assert _userinfo(s.env["http_proxy"])[:2] == ("alice", tricky)


def test_ntlm_user_names_the_domain(catalogue):
    proxy = catalogue["ntlm"].env["http_proxy"]
    assert proxy.startswith("http://AD%5Calice:")
    assert _userinfo(proxy)[0] == "AD\\alice"


def test_negotiate_has_a_ticket_a_config_mapping_localhost_and_no_url_credentials(
        catalogue, kinits):
    assert len(kinits) == 1                      # one kinit for both Kerberos scenarios
    assert kinits[0][0] == "alice" and kinits[0][4] == ("localhost",)
    caches = set()
    for name in ("negotiate", "negotiate-https"):
        env = catalogue[name].env
        assert env["http_proxy"] == "http://localhost:3131"
        ccache = Path(env["KRB5CCNAME"].removeprefix("FILE:"))
        assert env["KRB5CCNAME"].startswith("FILE:") and ccache.read_bytes() == b"ticket"
        assert ccache.stat().st_mode & 0o777 == 0o600
        caches.add(ccache)
        conf = Path(env["KRB5_CONFIG"]).read_text()
        assert "localhost = AD.EXAMPLE.COM" in conf and "kdc = 127.0.0.1:10088" in conf
    assert len(caches) == 2                      # parallel clients never share a cache
    assert "KRB5CCNAME" not in catalogue["basic"].env


def test_negotiate_no_ticket_has_the_realm_but_an_empty_cache(catalogue):
    env = catalogue["negotiate-no-ticket"].env
    assert env["http_proxy"] == "http://localhost:3131"            # no URL credentials
    assert "localhost = AD.EXAMPLE.COM" in Path(env["KRB5_CONFIG"]).read_text()
    ccache = Path(env["KRB5CCNAME"].removeprefix("FILE:"))
    assert not ccache.exists()
    assert ccache != Path(catalogue["negotiate"].env["KRB5CCNAME"].removeprefix("FILE:"))
    assert catalogue["negotiate-no-ticket"].expect == "proxy-auth"


def test_the_company_port_gets_a_ticket_a_domain_password_or_plain_basic(catalogue):
    kerberos, ntlm, basic = (catalogue[n].env for n in ("corp-kerberos", "corp-ntlm",
                                                        "corp-basic-only"))
    assert kerberos["http_proxy"] == "http://localhost:3135"       # called by its SPN
    assert Path(kerberos["KRB5CCNAME"].removeprefix("FILE:")).read_bytes() == b"ticket"
    # a domain user not logged in to Kerberos: the realm, an empty cache, the password
    assert _userinfo(ntlm["http_proxy"])[0::2] == ("AD\\alice", "127.0.0.1")
    assert "localhost = AD.EXAMPLE.COM" in Path(ntlm["KRB5_CONFIG"]).read_text()
    assert not Path(ntlm["KRB5CCNAME"].removeprefix("FILE:")).exists()
    # a Basic-only client: the plain user name, nothing of Kerberos
    assert _userinfo(basic["http_proxy"])[0::2] == ("alice", "127.0.0.1")
    assert "KRB5CCNAME" not in basic and "KRB5_CONFIG" not in basic


def test_negotiate_alias_has_a_ticket_and_a_password_for_a_name_without_an_spn(catalogue):
    env = catalogue["negotiate-alias"].env
    assert _userinfo(env["http_proxy"]) == ("AD\\alice", "Rabbit-Hole-2024", "127.0.0.1", 3135)
    assert Path(env["KRB5CCNAME"].removeprefix("FILE:")).read_bytes() == b"ticket"
    assert "127.0.0.1 =" not in Path(env["KRB5_CONFIG"]).read_text()


def test_account_scenarios_send_each_account_with_its_own_password_but_the_budgets(
        catalogue, endpoints, directory):
    accounts = endpoints.proxy["corp"].accounts
    for name, state in (("account-disabled", "disabled"),
                        ("password-expired", "password-expired"),
                        ("account-locked", "locked")):
        user, password, host, port = _userinfo(catalogue[name].env["http_proxy"])
        assert (user, password) == (accounts[state]["username"], accounts[state]["password"])
        assert (host, port, catalogue[name].within) == ("127.0.0.1", 3135, 5)
    budget = catalogue["lockout-budget"]
    user, password, _, _ = _userinfo(budget.env["http_proxy"])
    assert user == accounts["lockout-budget"]["username"] == "judy"
    assert password == "Not-Their-Password-1" != accounts["lockout-budget"]["password"]
    assert budget.budget == 3
    # the locked user is locked while the catalogue is built, before anything runs
    assert directory.calls == [("lock", "ivan", 5)]


def test_lockout_budget_counts_only_inside_its_watch_and_unlocks_on_both_sides(catalogue,
                                                                               directory):
    budget = catalogue["lockout-budget"]
    directory.calls.clear()
    directory.count = 2
    with budget.watching():
        assert budget.attempts() == 2
    assert directory.calls == [("unlock", "judy"), ("count", "judy"), ("unlock", "judy")]
    assert catalogue["basic"].attempts() is None


@pytest.mark.parametrize("name", ["account-locked", "lockout-budget"])
def test_account_scenarios_the_lab_must_prepare_need_its_directory(endpoints, kinits, tmp_path,
                                                                   name):
    with pytest.raises(LabError, match=f"needs the lab's directory.*lab run {name}"):
        build_scenarios(endpoints, [name], run="r", workdir=tmp_path / "w")


def test_no_kinit_unless_a_kerberos_scenario_is_chosen(endpoints, kinits, tmp_path):
    build_scenarios(endpoints, ["basic", "ntlm"], run="r", workdir=tmp_path / "w")
    assert kinits == []


def test_no_proxy_reaches_the_origin_directly_with_the_proxy_still_set(catalogue):
    s = catalogue["no-proxy"]
    assert s.direct and s.url == "http://127.0.0.1:8080/matrix/r1/no-proxy"
    assert s.https_url == "https://localhost:8443/matrix/r1/no-proxy"
    assert s.env["no_proxy"] == s.env["NO_PROXY"] == "127.0.0.1,localhost"
    assert s.env["http_proxy"] == "http://127.0.0.1:3128"
    assert all("no_proxy" not in o.env for o in catalogue.values() if o.name != "no-proxy")


def test_proxy_down_points_at_a_port_nothing_listens_on(endpoints, kinits, tmp_path):
    with clientenv.closed_port() as held:
        port = held.getsockname()[1]
        s = build_scenarios(endpoints, ["proxy-down"], run="r", workdir=tmp_path / "w",
                            down_port=port)[0]
        assert s.env["http_proxy"] == f"http://127.0.0.1:{port}"
        with pytest.raises(ConnectionRefusedError), socket.create_connection(
                ("127.0.0.1", port), timeout=5):
            pass


def test_ca_bundle_holds_system_cas_and_the_lab_ca_untrusted_holds_only_the_system(catalogue):
    trusted = Path(catalogue["basic"].env["SSL_CERT_FILE"]).read_bytes()
    untrusted_path = catalogue["tls-untrusted"].env["SSL_CERT_FILE"]
    untrusted = Path(untrusted_path).read_bytes()
    assert LAB_CA in trusted and LAB_CA not in untrusted
    system = clientenv.system_ca_file()
    if system is not None:                      # a machine with CA certificates installed
        assert trusted.startswith(system.read_bytes().rstrip(b"\n"))
        assert untrusted == system.read_bytes() or untrusted == system.read_bytes() + b"\n"
    for name in CA_VARIABLES:
        assert catalogue["tls-untrusted"].env[name] == untrusted_path


def test_environ_drops_the_users_own_proxy_settings(catalogue):
    base = {"PATH": "/bin", "no_proxy": "*", "ALL_PROXY": "socks5://x:1", "KRB5CCNAME": "x",
            "SSL_CERT_DIR": "/mine", "https_proxy": "http://corp:8080"}
    env = catalogue["basic"].environ(base)
    assert env["PATH"] == "/bin"
    for name in ("no_proxy", "ALL_PROXY", "KRB5CCNAME", "SSL_CERT_DIR"):
        assert name not in env
    assert env["https_proxy"] == catalogue["basic"].env["https_proxy"]


def test_apply_sets_the_environment_in_process(catalogue, monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    catalogue["ntlm"].apply(monkeypatch)
    import os

    assert "no_proxy" not in os.environ
    assert os.environ["http_proxy"] == catalogue["ntlm"].env["http_proxy"]


def test_krb5_conf_maps_extra_hosts_to_the_realm():
    conf = ad.krb5_conf("AD.EXAMPLE.COM", "127.0.0.1", 88, ("localhost",))
    assert conf.rstrip().endswith("localhost = AD.EXAMPLE.COM")
    assert "localhost" not in ad.krb5_conf("AD.EXAMPLE.COM", "127.0.0.1", 88)


def test_unreadable_lab_ca_is_one_line_saying_run_lab_up(endpoints, tmp_path):
    Path(endpoints.web.ca_cert).unlink()
    with pytest.raises(LabError, match="lab up"):
        build_scenarios(endpoints, ["basic"], run="r", workdir=tmp_path / "w")


def test_fault_scenarios_go_through_their_own_proxy(catalogue):
    for name in ("proxy-latency", "proxy-reset-midstream", "proxy-stall"):
        host, port = _userinfo(catalogue[name].env["http_proxy"])[2:]
        assert host == "127.0.0.1" and port >= 40000
    assert catalogue["origin-503"].url.endswith("?status=503")
    assert catalogue["proxy-reset-midstream"].url.endswith("?bytes=4000000")


def test_a_fault_scenario_without_its_proxy_names_how_to_run_it(endpoints, kinits, tmp_path):
    from lab.errors import LabError

    with pytest.raises(LabError, match="lab run proxy-stall"):
        build_scenarios(endpoints, ["proxy-stall"], run="r", workdir=tmp_path / "w")


def test_dc_down_sends_a_valid_domain_user_squid_cannot_have_cached(catalogue, endpoints):
    s = catalogue["dc-down"]
    assert (s.expect, spec("dc-down").pause) == ("proxy-auth", "dc")
    user, password, host, port = _userinfo(s.env["http_proxy"])
    assert (host, port) == ("127.0.0.1", 3130)               # the ldap port
    assert (user, password) == ("erin", "Dormant-Owl-58")
    # no other scenario sends that user: squid never validates it while the DC answers
    others = {_userinfo(o.env["http_proxy"])[0] for o in catalogue.values()
              if o.name != "dc-down" and "http_proxy" in o.env}
    assert "erin" not in others and "AD\\erin" not in others
    assert s.credential == ("basic:erin", "Dormant-Owl-58")


def test_scenarios_that_pause_a_service_run_alone_after_the_others():
    shared, alone = split_exclusive(NAMES)
    assert alone == ["dc-down"] and "dc-down" not in shared
    assert shared + alone == list(NAMES)                 # nothing lost, order kept
    assert split_exclusive(["basic", "ldap"]) == (["basic", "ldap"], [])


def test_dc_down_outside_lab_matrix_is_refused_with_one_line(endpoints, kinits, tmp_path):
    with pytest.raises(LabError) as caught:
        build_scenarios(endpoints, ["dc-down"], run="r", workdir=tmp_path / "w")
    message = str(caught.value)
    assert "lab matrix --only dc-down" in message and "\n" not in message
    with pytest.raises(LabError, match="dc-down"):
        build_scenarios(endpoints, run="r", workdir=tmp_path / "w2")     # the whole catalogue


def test_endpoints_without_the_uncached_user_say_lab_up(endpoints, kinits, tmp_path):
    proxy = dict(endpoints.proxy)
    proxy["ldap"] = dataclasses.replace(proxy["ldap"], uncached_username=None,
                                        uncached_password=None)
    with pytest.raises(LabError, match="lab up"):
        build_scenarios(dataclasses.replace(endpoints, proxy=proxy), ["dc-down"], run="r",
                        workdir=tmp_path / "w", exclusive=True)
