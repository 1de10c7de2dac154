"""`lab env`, `lab run`, `lab matrix`: bad input is one line and exit 2, never a traceback.

No lab: the stack is a stub that either has no lab or must never be asked.
"""

import pytest

from lab.cli import main
from lab.cli import scenarios as cli_scenarios
from lab.config.discovery import load_config
from lab.errors import LabNotRunning


class NoLab:
    config = load_config(environ={})

    def endpoints(self, **_):
        raise LabNotRunning("lab 'x' is not running: run `make lab-up` or `lab up`")


class NeverAsked:
    config = load_config(environ={})

    def endpoints(self, **_):
        raise AssertionError("bad input must be refused before the lab is asked")


def run(monkeypatch, capsys, argv, stack=NeverAsked):
    monkeypatch.setattr(main, "_stack", lambda *_, **__: stack())
    monkeypatch.setattr(cli_scenarios, "_stack", lambda *_, **__: stack())
    code = main.main(argv)
    return code, capsys.readouterr()


def one_line(err: str) -> bool:
    return err.startswith("lab: error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv,needle", [
    (["matrix"], "no command to run"),
    (["matrix", "--"], "no command to run"),
    (["matrix", "--only", "basic,nope", "--", "curl", "{url}"], "no scenario 'nope'"),
    (["matrix", "--skip", "nope", "--", "curl"], "no scenario 'nope'"),
    (["matrix", "--only", "basic", "--skip", "basic", "--", "curl"], "leave no scenario"),
    (["matrix", "--timeout", "0", "--", "curl"], "--timeout 0"),
    (["matrix", "--jobs", "0", "--", "curl"], "--jobs 0"),
    (["matrix", "--", "no-such-client-program-x"], "command not found"),
    (["matrix", "--junit", "/nonexistent/dir/r.xml", "--", "curl"], "does not exist"),
    (["matrix", "--client", "curl"], "give NAME=COMMAND"),
    (["matrix", "--client", "=curl {url}"], "give NAME=COMMAND"),
    (["matrix", "--client", "a="], "give NAME=COMMAND"),
    (["matrix", "--client", "a='unclosed {url}"], "No closing quotation"),
    (["matrix", "--client", "a=curl {url}", "--client", "A=wget {url}"], "two clients named"),
    (["matrix", "--client", "!!=curl {url}", "--client", "client=curl {url}"],
     "two clients named"),
    (["matrix", "--client", "a=no-such-client-program-x {url}"], "command not found"),
    (["report", "/nonexistent/r.json"], "No such file"),
    (["report", "a.json", "b.json", "c.json"], "give one saved run"),
    (["env", "nope"], "no scenario 'nope'"),
    (["env"], "which scenario"),
    (["run", "nope", "--", "curl"], "no scenario 'nope'"),
    (["run", "basic"], "no command to run"),
])
def test_usage_errors_exit_2_with_one_line(argv, needle, monkeypatch, capsys):
    code, out = run(monkeypatch, capsys, argv)
    assert code == 2 and one_line(out.err) and needle in out.err, out.err


@pytest.mark.parametrize("argv", [["matrix", "--", "true"], ["env", "basic"],
                                  ["run", "basic", "--", "true"]])
def test_no_lab_is_a_usage_error(argv, monkeypatch, capsys):
    code, out = run(monkeypatch, capsys, argv, stack=NoLab)
    assert code == 2 and one_line(out.err) and "not running" in out.err


def test_a_bad_timeout_is_argparse_exit_2(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        run(monkeypatch, capsys, ["matrix", "--timeout", "soon", "--", "curl"])
    assert exc.value.code == 2


def test_everything_after_the_double_dash_belongs_to_the_command():
    args = main._parse(["matrix", "--only", "basic", "--", "curl", "--json", "--", "{url}"])
    assert args.only == ["basic"] and not args.json
    assert args.cmd == ["curl", "--json", "--", "{url}"]
    args = main._parse(["run", "basic", "--", "curl", "-v"])
    assert (args.scenario, args.cmd) == ("basic", ["curl", "-v"])


def test_env_list_needs_no_lab(monkeypatch, capsys):
    code, out = run(monkeypatch, capsys, ["env", "--list"])
    assert code == 0
    names = [line.split()[0] for line in out.out.splitlines()]
    from lab.scenarios.catalogue import NAMES

    assert names == list(NAMES) and "AD\\user" in out.out


def test_status_json_adds_the_scenarios_and_keeps_every_endpoint_key(monkeypatch, capsys):
    import json

    from lab.scenarios.catalogue import NAMES
    from tests.test_cli import _fake_endpoints

    stub = type("Stub", (), {"endpoints": lambda self: _fake_endpoints()})
    code, out = run(monkeypatch, capsys, ["status", "--json"], stack=stub)
    doc = json.loads(out.out)
    assert code == 0
    scenarios = doc.pop("scenarios")
    assert doc == _fake_endpoints().to_json()
    assert [s["name"] for s in scenarios] == list(NAMES)
    assert all(set(s) == {"name", "description", "expect"} for s in scenarios)


def test_report_shows_a_saved_run_and_compares_two(monkeypatch, capsys, tmp_path):
    from lab.scenarios import reports
    from tests.test_reports import two_clients

    saved = tmp_path / "before.json"
    saved.write_text(reports.json_text(two_clients()))
    code, out = run(monkeypatch, capsys, ["report", str(saved), "--junit",
                                          str(tmp_path / "r.xml")])
    assert code == 1 and out.out.rstrip("\n") == reports.table(two_clients())
    assert (tmp_path / "r.xml").read_text() == reports.junit(two_clients())
    code, out = run(monkeypatch, capsys, ["report", str(saved), str(saved)])
    assert code == 0 and out.out == "no scenario changed its verdict\n"
    code, out = run(monkeypatch, capsys, ["report", str(saved), str(saved), "--html", "x"])
    assert code == 2 and one_line(out.err) and "give one file" in out.err


@pytest.mark.parametrize("content,needle", [("{not json", "is not JSON"),
                                            ('{"a": 1}', "is not a `lab matrix --json`")])
def test_report_of_what_is_not_a_saved_run_is_one_line(content, needle, monkeypatch, capsys,
                                                       tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, out = run(monkeypatch, capsys, ["report", str(bad)])
    assert code == 2 and one_line(out.err) and needle in out.err, out.err
