import crypt  # noqa: F401  (same module the renderer uses; fine on 3.11)
from pathlib import Path

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


def test_the_proxy_files_are_written_for_root_and_one_group_only(tmp_path):
    import grp
    import os

    config = load_config(environ={})
    group = grp.getgrgid(os.getgid()).gr_name
    here = {path: str(tmp_path / path.rsplit("/", 1)[1]) for path in render.PROXY_FILES}
    render.write_files(config, {here[p]: r for p, r in render.PROXY_FILES.items()},
                       group=group, root_only={here[p] for p in render.ROOT_ONLY})
    for path, written in here.items():
        mode = 0o600 if path in render.ROOT_ONLY else 0o640
        assert os.stat(written).st_mode & 0o777 == mode, path
    assert "/etc/lab/socks-users" in render.ROOT_ONLY
    # the proxy joins offline (the DC image's machine account): no Administrator here
    assert not any(config.admin_password in Path(w).read_text() for w in here.values())
    assert "HEALTH_USER=" in (tmp_path / "health-user").read_text()
