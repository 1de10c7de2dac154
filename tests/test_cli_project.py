"""`lab init`, `lab config` and the global `--config` option."""

import tomllib

import pytest

from lab.cli import main
from lab.config.discovery import load_config


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory as the current one, with no lab variables set."""
    for name in ("LAB_CONFIG", "LAB_ROOT", "LAB_PROJECT", "LAB_SUBNET", "LAB_PORT_WEB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_STATE_HOME", str(tmp_path / "state"))
    directory = tmp_path / "my-client"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def test_init_writes_a_starter_that_loads_and_validates(project, capsys):
    assert main.main(["init"]) == 0
    out, err = capsys.readouterr()
    written = project / "lab.toml"
    assert f"wrote {written}" in err
    assert "conftest.py" in out and "def lab_keep" in out
    assert "lab matrix -- " in out and "lab up" in out
    config = load_config(environ={})                     # found from the current directory
    assert config.origin.file == written
    assert config.user("tester").in_domain and "proxy-users" in config.user("tester").groups
    assert config.project.startswith("lab-my-client-")
    assert written.read_text().count("\n#") > 20        # commented, for a person to edit


def test_init_never_overwrites(project, capsys):
    (project / "lab.toml").write_text("# mine\n")
    assert main.main(["init"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "Traceback" not in err
    assert (project / "lab.toml").read_text() == "# mine\n"


def test_config_prints_the_effective_configuration_masked(project, capsys, monkeypatch):
    (project / "lab.toml").write_text('[ports]\nweb = 18080\n[[users]]\nname = "dave"\n'
                                      'password = "Harbour-Light-55"\nin = ["domain"]\n')
    monkeypatch.setenv("LAB_PORT_DNS", "15353")
    assert main.main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"from: {project / 'lab.toml'}" in out and "packaged default" in out
    assert "derived from the file's directory" in out
    assert "set by the environment or .env: LAB_PORT_DNS" in out
    document = tomllib.loads(out)
    assert document["ports"]["web"] == 18080 and document["ports"]["dns"] == 15353
    assert {u["name"] for u in document["users"]} >= {"alice", "dave"}
    assert all(u["password"] == "***" for u in document["users"])
    assert "Harbour-Light-55" not in out and document["domain"]["admin_password"] == "***"
    assert main.main(["config", "--show-secrets"]) == 0
    assert "Harbour-Light-55" in capsys.readouterr().out


def test_global_config_option_names_the_file(project, tmp_path, capsys):
    other = tmp_path / "elsewhere.toml"
    other.write_text('[lab]\nproject = "elsewhere"\n')
    assert main.main(["--config", str(other), "config"]) == 0
    out = capsys.readouterr().out
    assert "project 'elsewhere'" in out and "(--config)" in out
    assert main.main(["--config", str(tmp_path / "missing.toml"), "config"]) == 1
    err = capsys.readouterr().err
    assert "missing.toml is not a file" in err and err.count("\n") == 1


def test_config_option_before_run_keeps_the_command_after_dashes(project):
    args = main._parse(["--config", "x.toml", "run", "basic", "--", "curl", "-v", "{url}"])
    assert str(args.config) == "x.toml" and args.cmd == ["curl", "-v", "{url}"]
