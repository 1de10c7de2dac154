import pytest

from lab.config.discovery import load_config, load_file
from lab.config.model import read_dotenv
from lab.config.schema import samba_password_problem
from lab.errors import ConfigError


def test_repo_config_loads_and_declares_what_the_lab_needs():
    config = load_config(environ={})
    domain_users = [u for u in config.users if u.in_domain and not u.service]
    assert len(domain_users) >= 2
    assert any(u.in_htpasswd and not u.in_domain for u in config.users)
    group = config.groups[0].name
    assert any(group in u.groups for u in domain_users)
    assert any(group not in u.groups for u in domain_users)
    assert config.ldap_bind_user.service


def test_addresses_follow_the_subnet(lab_root):
    config = load_config(lab_root, environ={"LAB_SUBNET": "10.77.0.0/24"})
    assert config.address("dns") == "10.77.0.10"
    assert config.compose_env()["LAB_DC_IP"] == "10.77.0.11"


def test_port_override_from_environment_and_dotenv(lab_root):
    (lab_root / ".env").write_text("# comment\nLAB_PORT_WEB=18080\nLAB_PROJECT='other'\n")
    config = load_config(lab_root, environ={"LAB_PORT_DNS": "15353"})
    assert config.ports["web"] == 18080 and config.ports["dns"] == 15353
    assert config.project == "other"
    assert config.compose_env()["LAB_PORT_WEB"] == "18080"


def test_environment_beats_dotenv(lab_root):
    (lab_root / ".env").write_text("LAB_PORT_WEB=18080\n")
    assert load_config(lab_root, environ={"LAB_PORT_WEB": "28080"}).ports["web"] == 28080


@pytest.mark.parametrize("env,needle", [
    ({"LAB_PORT_NOPE": "1"}, "no such port"),
    ({"LAB_PORT_WEB": "http"}, "1 to 65535"),
    ({"LAB_PORT_WEB": "3128"}, "both 3128"),
    ({"LAB_SUBNET": "300.1.1.0/24"}, "LAB_SUBNET"),
    ({"LAB_SUBNET": "10.0.0.0/30"}, "too small"),
    ({"LAB_PROJECT": "Bad Name"}, "LAB_PROJECT"),
])
def test_bad_overrides_say_what_to_change(lab_root, env, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(lab_root, environ=env)


def _edit(lab_root, old, new):
    path = lab_root / "lab.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old,new,needle", [
    ('password = "Marmalade-77!"', 'password = "short"', "shorter than 7"),
    ('password = "Marmalade-77!"', 'password = "alllowercase"', "three of"),
    ('password = "Marmalade-77!"', 'password = "Bob-Is-Here-77"', "account name"),
    ('in = ["domain"]\ngroups = []', 'in = ["ldap"]\ngroups = []', "`in` must list"),
    ('groups = ["proxy-users"]', 'groups = ["nobody-group"]', "not declared"),
    ('name = "bob"', 'name = "alice"', "listed twice"),
    ('name = "bob"', 'name = "Bob Smith"', "user name"),
])
def test_bad_users_file_is_refused_with_the_reason(lab_root, old, new, needle):
    _edit(lab_root, old, new)
    with pytest.raises(ConfigError, match=needle):
        load_config(lab_root, environ={})


def test_missing_config_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="LAB_ROOT"):
        load_config(tmp_path, environ={})


def test_broken_toml_names_the_file(lab_root):
    (lab_root / "lab.toml").write_text("[lab\n")
    with pytest.raises(ConfigError, match="lab.toml"):
        load_config(lab_root, environ={})


def test_passwords_never_appear_in_repr():
    config = load_config(environ={})
    text = repr(config)
    for user in config.users:
        assert user.password not in text
    assert config.admin_password not in text


def test_samba_policy_check():
    assert samba_password_problem("bob", "Marmalade-77!") is None
    assert samba_password_problem("bob", "Ab1") is not None


def test_dotenv_rejects_garbage(tmp_path):
    (tmp_path / ".env").write_text("JUSTAWORD\n")
    with pytest.raises(ConfigError, match="KEY=value"):
        read_dotenv(tmp_path / ".env")


def test_state_dir_belongs_to_the_project_not_the_checkout(lab_root, tmp_path):
    env = {"LAB_STATE_HOME": str(tmp_path / "state")}
    expected = tmp_path / "state" / "lab" / "lab"
    assert load_config(lab_root, environ=env).state_dir == expected      # a copy
    assert load_config(environ=env).state_dir == expected                # the repo
    assert load_config(lab_root, environ={**env, "LAB_PROJECT": "other"}).state_dir.name == "other"


@pytest.mark.parametrize("old,new,needle", [
    ("[domain]", "[domian]", "unknown section 'domian'; did you mean 'domain'"),
    ("proxy_basic = 3129", 'proxy_basic = "3129"', r"\[ports\] proxy_basic = '3129' must be an "
                                                  "integer"),
    ("proxy_basic = 3129", "proxy_basic = 70000", "from 1 to 65535"),
    ("proxy_basic = 3129", "proxy_basik = 3129", "did you mean 'proxy_basic'"),
    ('group = "proxy-users"', 'group = "proxy-users"\nntlm_enabled = false',
     r"unknown key in \[proxy\]: 'ntlm_enabled'"),
    ('groups = ["proxy-users"]', 'grups = ["proxy-users"]', "did you mean 'groups'"),
    ('admin_password = "Lab-Admin-2024!"', 'admin_password = "admin"', "admin_password"),
    ('realm = "AD.EXAMPLE.COM"', 'realm = "OTHER.COM"', "realm is the domain in upper case"),
    ('hostname = "proxy"', 'hostname = "LABPROXY"', "hostname"),
    ('in = ["domain"]\nservice = true', 'in = ["domain"]\nservice = false',
     "LDAP bind account"),
])
def test_config_mistakes_are_caught_at_load_with_the_fix(lab_root, old, new, needle):
    """Bug: these surfaced as KeyError/TypeError tracebacks, late in a build, or never."""
    _edit(lab_root, old, new)
    with pytest.raises(ConfigError, match=needle):
        load_config(lab_root, environ={})


def test_a_complete_file_missing_a_section_is_refused(lab_root):
    """The images load their staged file alone (`load_file`): nothing fills a gap there."""
    _edit(lab_root, "[lab]\nproject = \"lab\"\n", "")
    with pytest.raises(ConfigError, match=r"section \[lab\] is missing"):
        load_file(lab_root / "lab.toml", environ={})


@pytest.mark.parametrize("value", ["70000", "0", "-1", "12x"])
def test_port_override_out_of_range(lab_root, value):
    with pytest.raises(ConfigError, match="LAB_PORT_WEB.*1 to 65535"):
        load_config(lab_root, environ={"LAB_PORT_WEB": value})


def test_roles_are_settled_at_load():
    roles = load_config(environ={}).roles
    assert roles.basic.in_htpasswd and roles.domain.in_domain
    assert "proxy-users" in roles.group_member.groups
    assert "proxy-users" not in roles.group_denied.groups
    assert roles.ldap_bind.service
    # dc-down's user plays no other part: nothing sends it to squid while the DC answers
    others = (roles.basic, roles.domain, roles.group_member, roles.group_denied,
              roles.ldap_bind)
    assert roles.uncached.in_domain and roles.uncached not in others
    assert roles.uncached.name == "erin"
    # the wrong-password scenarios' user: no right password of it is ever in flight
    wrong = roles.wrong_password
    assert wrong.in_domain and wrong.in_htpasswd and wrong not in (*others, roles.uncached)
    assert wrong.name == "frank"


def _users(*entries):
    from lab.config.users import parse_users

    return parse_users([{"name": name, "password": "Xyzzy-Plugh-42", "in": places,
                         "groups": groups, "service": service, **(extra[0] if extra else {})}
                        for name, places, groups, service, *extra in entries],
                       {"proxy-users"})


ALICE = ("alice", ["domain", "htpasswd"], ["proxy-users"], False)
BOB = ("bob", ["domain"], [], False)
ERIN = ("erin", ["domain"], [], False)
FRANK = ("frank", ["domain", "htpasswd"], [], False)
SVC = ("svc", ["domain"], [], True)
#: the accounts AD refuses: disabled, password expired, two under the lockout policy
ACCOUNTS = (("gina", ["domain"], [], False, {"state": "disabled"}),
            ("hank", ["domain"], [], False, {"state": "password-expired"}),
            ("ivan", ["domain"], [], False, {"lockout": True}),
            ("judy", ["domain"], [], False, {"lockout": True}))


@pytest.mark.parametrize("entries,needle", [
    ((ALICE, SVC), "outside 'proxy-users'"),
    ((ALICE, ("bob", ["domain"], ["proxy-users"], False),
      ("erin", ["domain"], ["proxy-users"], False), SVC), "outside 'proxy-users'"),
    ((ALICE, BOB, SVC), "dc-down"),            # every domain user already plays a part
    ((ALICE, BOB, ("carol", ["htpasswd"], [], False), SVC), "dc-down"),
    ((ALICE, BOB, ERIN, ("carol", ["htpasswd"], [], False), SVC), "wrong-password"),
])
def test_a_user_set_that_cannot_play_every_part_is_refused(entries, needle):
    from lab.config.users import settle_roles

    with pytest.raises(ConfigError, match=needle):
        settle_roles(_users(*entries), "proxy-users")


def test_the_dc_down_user_is_a_domain_user_playing_no_other_part():
    from lab.config.users import settle_roles

    roles = settle_roles(_users(ALICE, BOB, ERIN, FRANK, SVC, *ACCOUNTS), "proxy-users")
    assert (roles.domain.name, roles.group_denied.name, roles.uncached.name) == (
        "alice", "bob", "erin")


def test_accounts_ad_refuses_play_only_their_own_parts():
    from lab.config.users import settle_roles

    # listed first, they still play no ordinary part
    roles = settle_roles(_users(*ACCOUNTS, ALICE, BOB, ERIN, FRANK, SVC), "proxy-users")
    assert (roles.domain.name, roles.group_denied.name, roles.uncached.name,
            roles.wrong_password.name) == ("alice", "bob", "erin", "frank")
    assert (roles.account_disabled.name, roles.password_expired.name,
            roles.account_locked.name, roles.lockout_budget.name) == (
        "gina", "hank", "ivan", "judy")
    with pytest.raises(ConfigError, match="lockout-budget.*lockout = true"):
        settle_roles(_users(ALICE, BOB, ERIN, FRANK, SVC, *ACCOUNTS[:3]), "proxy-users")


@pytest.mark.parametrize("extra,needle", [
    ({"state": "locked"}, "state 'locked': use one of active, disabled, password-expired"),
    ({"state": "disabled", "in": ["htpasswd"]}, "a domain account's"),
    ({"lockout": True, "in": ["htpasswd"]}, "a domain account's"),
])
def test_account_states_are_checked_at_load(extra, needle):
    from lab.config.users import parse_users

    with pytest.raises(ConfigError, match=needle):
        parse_users([{"name": "zed", "password": "Xyzzy-Plugh-42", "in": ["domain"],
                      **extra}], set())


def test_compose_env_carries_host_and_container_ports():
    env = load_config(environ={}).compose_env()
    assert env["LAB_PORT_PROXY_BASIC"] == "3129" and env["LAB_CPORT_PROXY_BASIC"] == "3129"
    assert env["LAB_CPORT_DNS"] == "53" and env["LAB_PROXY_HOSTNAME"] == "proxy"


def test_host_ports_are_a_range_the_proxy_and_the_fixtures_share(lab_root):
    config = load_config(lab_root, environ={})
    assert config.host_ports == (30000, 30999)
    assert config.compose_env()["LAB_HOST_PORTS"] == "30000-30999"
    toml = lab_root / "lab.toml"
    for bad, needle in (('"80-90"', "from 1025"), ('"3000"', "a range of ports"),
                        ('"31000-30000"', "not above the last")):
        toml.write_text(toml.read_text().replace('host_ports = "30000-30999"',
                                                 f"host_ports = {bad}"))
        with pytest.raises(ConfigError, match=needle):
            load_config(lab_root, environ={})
        toml.write_text(toml.read_text().replace(f"host_ports = {bad}",
                                                 'host_ports = "30000-30999"'))
