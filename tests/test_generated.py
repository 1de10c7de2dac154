"""A lab published beyond loopback gets its own passwords, not the packaged (public) ones."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.config.discovery import load_config
from lab.config.generated import PASSWORDS_FILE
from lab.config.schema import samba_password_problem
from lab.errors import ConfigError

PACKAGED = load_config(environ={})


def _published(tmp_path, **extra):
    return {"LAB_BIND": "0.0.0.0", "LAB_ALLOW": "10.0.0.0/8",
            "LAB_STATE_HOME": str(tmp_path / "state"), **extra}


def _passwords(config):
    return {"Administrator": config.admin_password,
            **{user.name: user.password for user in config.users}}


def test_on_loopback_the_packaged_passwords_stay_and_nothing_is_written(tmp_path):
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path / "state")})
    assert _passwords(config) == _passwords(PACKAGED)
    assert not (config.state_dir / PASSWORDS_FILE).exists()


def test_beyond_loopback_every_password_is_generated_kept_private_and_stable(tmp_path):
    config = load_config(environ=_published(tmp_path))
    mine, packaged = _passwords(config), _passwords(PACKAGED)
    assert mine.keys() == packaged.keys()
    assert all(mine[name] != packaged[name] for name in mine), "a packaged password stayed"
    assert len(set(mine.values())) == len(mine)
    assert all(samba_password_problem(name, pw) is None for name, pw in mine.items())
    stored = config.state_dir / PASSWORDS_FILE
    assert os.stat(stored).st_mode & 0o777 == 0o600
    assert json.loads(stored.read_text()) == mine
    assert _passwords(load_config(environ=_published(tmp_path))) == mine       # stable
    # what dc and proxy are handed, and `lab config --show-secrets` shows
    assert config.document["domain"]["admin_password"] == mine["Administrator"]
    assert config.roles.basic.password == mine[config.roles.basic.name]


def test_a_password_the_projects_file_sets_is_kept(tmp_path):
    own = tmp_path / "proj" / "lab.toml"
    own.parent.mkdir()
    own.write_text('[domain]\nadmin_password = "Own-Admin-Pass-1"\n\n[[users]]\n'
                   'name = "alice"\npassword = "Own-Rabbit-Pass-2"\nin = ["domain", "htpasswd"]\n'
                   'groups = ["proxy-users"]\n')
    config = load_config(file=own, environ=_published(tmp_path))
    assert config.admin_password == "Own-Admin-Pass-1"
    assert config.user("alice").password == "Own-Rabbit-Pass-2"
    assert config.user("bob").password != PACKAGED.user("bob").password


def test_twenty_loads_at_once_agree(tmp_path):
    with ThreadPoolExecutor(20) as pool:
        seen = list(pool.map(lambda _: _passwords(load_config(environ=_published(tmp_path))),
                             range(20)))
    assert all(passwords == seen[0] for passwords in seen)


def test_an_unreadable_passwords_file_is_one_line_naming_the_fix(tmp_path):
    config = load_config(environ=_published(tmp_path))
    (config.state_dir / PASSWORDS_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="remove it, and the next `lab up` makes new"):
        load_config(environ=_published(tmp_path))
