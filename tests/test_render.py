import crypt  # noqa: F401  (same module the renderer uses; fine on 3.11)

import pytest

from lab.config import render
from lab.config.discovery import load_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_htpasswd_holds_exactly_the_htpasswd_users_with_working_hashes():
    import crypt as _crypt

    config = load_config(environ={})
    lines = render.htpasswd(config).splitlines()
    entries = dict(line.split(":", 1) for line in lines)
    assert set(entries) == {u.name for u in config.users if u.in_htpasswd}
    for name, hashed in entries.items():
        assert hashed.startswith("$6$")
        assert _crypt.crypt(config.user(name).password, hashed) == hashed


def test_ldap_bind_password_has_no_newline():
    config = load_config(environ={})
    assert render.ldap_bind_password(config) == config.ldap_bind_user.password


def test_render_cli_usage(capsys):
    assert render.main(["nope"]) == 2
    assert "usage" in capsys.readouterr().err
