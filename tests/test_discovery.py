"""Which lab.toml is used, how a project's file extends the packaged default, and the
project name it gets (lab.config.discovery)."""

import re
import tomllib

import pytest

from lab.config import toml_writer
from lab.config.discovery import derive_project, load_config, load_file, merge
from lab.errors import ConfigError

EXTRA_USER = '[[users]]\nname = "dave"\npassword = "Harbour-Light-55"\nin = ["domain"]\n'


def _write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def places(tmp_path):
    """Three project files and a working directory below the third."""
    flag = _write(tmp_path / "flag" / "lab.toml", '[lab]\nproject = "from-flag"\n')
    env = _write(tmp_path / "env" / "lab.toml", '[lab]\nproject = "from-env"\n')
    _write(tmp_path / "proj" / "lab.toml", '[lab]\nproject = "from-cwd"\n')
    cwd = tmp_path / "proj" / "src" / "deep"
    cwd.mkdir(parents=True)
    return flag, env, cwd


def test_discovery_order_flag_then_env_then_cwd_upwards_then_default(places, tmp_path):
    flag, env, cwd = places
    assert load_config(file=flag, environ={"LAB_CONFIG": str(env)}, cwd=cwd).project == \
        "from-flag"
    assert load_config(environ={"LAB_CONFIG": str(env)}, cwd=cwd).project == "from-env"
    found = load_config(environ={}, cwd=cwd)
    assert found.project == "from-cwd"
    assert found.origin.file == tmp_path / "proj" / "lab.toml"
    alone = load_config(environ={}, cwd=tmp_path)        # no lab.toml here or above
    assert alone.origin.file is None and alone.project == "lab"
    assert "packaged default" in alone.origin.describe()


def test_lab_root_still_names_the_directory_of_a_lab_toml(places, tmp_path):
    _, _, cwd = places
    config = load_config(environ={"LAB_ROOT": str(tmp_path / "flag")}, cwd=cwd)
    assert config.project == "from-flag" and config.origin.how == "LAB_ROOT"


@pytest.mark.parametrize("kwargs,needle", [
    ({"file": "nope.toml"}, r"--config nope.toml: .*nope.toml is not a file"),
    ({"environ": {"LAB_CONFIG": "/no/such/lab.toml"}}, "LAB_CONFIG=/no/such/lab.toml"),
])
def test_a_config_file_that_is_not_there_is_one_line(tmp_path, kwargs, needle):
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError, match=needle):
        load_config(cwd=tmp_path, **kwargs)


def test_a_project_file_extends_the_default(tmp_path):
    own = _write(tmp_path / "lab.toml", "[ports]\nweb = 18080\n\n" + EXTRA_USER +
                 '\n[[groups]]\nname = "testers"\n')
    default = load_config(environ={}, cwd=tmp_path.parent.parent)
    config = load_config(file=own, environ={})
    assert config.ports["web"] == 18080
    assert config.ports["proxy_basic"] == default.ports["proxy_basic"]       # key by key
    assert [u.name for u in config.users] == [*(u.name for u in default.users), "dave"]
    assert [g.name for g in config.groups] == ["proxy-users", "testers"]
    assert config.domain == default.domain and config.subnet == default.subnet


def test_an_entry_named_like_a_default_one_replaces_it(tmp_path):
    own = _write(tmp_path / "lab.toml", '[[users]]\nname = "carol"\npassword = "Other+Pw-99"\n'
                 'in = ["htpasswd"]\n')
    config = load_config(file=own, environ={})
    carol = config.user("carol")
    assert carol.password == "Other+Pw-99"
    assert [u.name for u in config.users].count("carol") == 1


def test_merge_rules_on_documents():
    base = {"lab": {"project": "a"}, "ports": {"web": 1, "dns": 2},
            "users": [{"name": "x", "in": ["domain"]}, {"name": "y"}]}
    merged = merge(base, {"ports": {"web": 9}, "users": [{"name": "y", "service": True},
                                                       {"name": "z"}]}, "f")
    assert merged["ports"] == {"web": 9, "dns": 2}
    assert merged["users"] == [{"name": "x", "in": ["domain"]}, {"name": "y", "service": True},
                               {"name": "z"}]
    assert base["ports"] == {"web": 1, "dns": 2}                   # the base is untouched


@pytest.mark.parametrize("text,needle", [
    ("ports = 3\n", r"lab.toml: ports must be a table"),
    ('[[users]]\npassword = "x"\n', r"\[\[users\]\] #1 needs a `name`"),
    ('[[users]]\nname = "dave"\n[[users]]\nname = "dave"\n', "user 'dave' is listed twice"),
    ("[portz]\nweb = 1\n", r"lab.toml \(merged with the packaged default\): unknown section "
                           "'portz'; did you mean 'ports'"),
    ('[[users]]\nname = "dave"\npassword = "short"\nin = ["domain"]\n', "shorter than 7"),
    ("[lab\n", r"lab.toml: Expected"),
])
def test_a_bad_project_file_is_one_line_naming_it(tmp_path, text, needle):
    own = _write(tmp_path / "lab.toml", text)
    with pytest.raises(ConfigError, match=needle) as caught:
        load_config(file=own, environ={})
    assert str(tmp_path) in str(caught.value)


def test_project_name_is_derived_per_directory_unless_set(tmp_path):
    one = _write(tmp_path / "a" / "My Client!" / "lab.toml", EXTRA_USER)
    two = _write(tmp_path / "b" / "My Client!" / "lab.toml", EXTRA_USER)
    first, second = (load_config(file=f, environ={}).project for f in (one, two))
    assert first != second
    for name in (first, second):
        assert re.fullmatch(r"lab-my-client-[0-9a-f]{6}", name)
    assert first == load_config(file=one, environ={}).project        # stable
    assert first == derive_project(one.parent)
    assert load_config(file=one, environ={"LAB_PROJECT": "mine"}).project == "mine"
    named = _write(tmp_path / "c" / "lab.toml", '[lab]\nproject = "shared"\n')
    assert load_config(file=named, environ={}).project == "shared"


def test_dotenv_beside_the_project_file_is_read(tmp_path):
    own = _write(tmp_path / "lab.toml", EXTRA_USER)
    _write(tmp_path / ".env", "LAB_PORT_WEB=28080\n")
    assert load_config(file=own, environ={}).ports["web"] == 28080


def test_the_written_document_reads_back_the_same(tmp_path):
    config = load_config(file=_write(tmp_path / "lab.toml", EXTRA_USER), environ={})
    text = toml_writer.dumps(config.document)
    assert tomllib.loads(text) == config.document
    staged = _write(tmp_path / "staged" / "lab.toml", text)
    again = load_file(staged, environ={})          # what the images do with it
    assert again.users == config.users and again.project == config.project


def test_masked_hides_every_password(tmp_path):
    config = load_config(file=_write(tmp_path / "lab.toml", EXTRA_USER), environ={})
    text = toml_writer.dumps(toml_writer.masked(config.document))
    assert "Harbour-Light-55" not in text and config.admin_password not in text
    assert text.count('password = "***"') == len(config.users) + 1
    assert "Harbour-Light-55" in toml_writer.dumps(config.document)       # the original kept
