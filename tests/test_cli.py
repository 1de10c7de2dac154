import pytest

from lab.cli import main
from lab.config.discovery import load_config
from lab.endpoints import build_endpoints
from tests.test_endpoints import PORTS


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main.main(["explode"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_service_for_logs(capsys):
    with pytest.raises(SystemExit) as exc:
        main.main(["logs", "mailserver"])
    assert exc.value.code == 2
    assert "dns" in capsys.readouterr().err


def test_no_command_prints_usage(capsys):
    with pytest.raises(SystemExit):
        main.main([])
    assert "usage: lab" in capsys.readouterr().err


def test_config_error_is_one_clean_line(monkeypatch, capsys):
    monkeypatch.setenv("LAB_PORT_WEB", "not-a-port")
    assert main.main(["status", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lab: error: LAB_PORT_WEB") and err.count("\n") == 1


def test_human_table_names_every_endpoint():
    table = main.format_endpoints(build_endpoints(load_config(environ={}), PORTS))
    for needle in ("proxy noauth", "proxy basic", "proxy ldap", "proxy negotiate",
                   "proxy ntlm", "proxy group", "dns", "dc ldap",
                   "dc kerberos", "web", "curl -x"):
        assert needle in table


@pytest.mark.parametrize("argv,needle", [
    (["fetch", "http://[::1/"], "not a valid URL"),
    (["fetch", "ftp://web/"], "http:// or https://"),
    (["fetch", "http://web/", "--password", "x"], "--password needs --user"),
    (["dns", "ad.example.com", "NOTATYPE"], "not a DNS record type"),
    (["dns", "a" * 300], "not a valid DNS name"),
    (["dns", ".."], "not a valid DNS name"),
    (["dns", "ad.example.com", "AXFR"], "meta-query"),
])
def test_bad_input_is_one_line_never_a_traceback(argv, needle, capsys, monkeypatch):
    """Bugs: `lab fetch` hung after an early error; `lab dns` printed tracebacks. Input is
    checked before the lab is asked anything, so these hold with no lab at all."""
    monkeypatch.setenv("LAB_PROJECT", "no-lab-for-this-test")
    import lab.cli.ad
    import lab.cli.main

    stub = type("Stub", (), {"endpoints": lambda self: _fake_endpoints(),
                             "config": load_config(environ={})})
    for module in (lab.cli.main, lab.cli.ad):
        monkeypatch.setattr(module, "_stack", lambda *_, **__: stub())
    assert main.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("lab: error: ") and err.count("\n") == 1 and needle in err


def _fake_endpoints():
    # a DNS server nobody answers on: query() must refuse bad input before asking
    return build_endpoints(load_config(environ={}), PORTS)


def test_up_with_check_exits_1_when_a_check_fails_after_its_table(monkeypatch, capsys):
    """`lab up --check`: the endpoints' table, then each check's line; one failed is
    exit 1 and a line on stderr, as `lab check` says it."""
    import lab.clients.check
    import lab.host.prepare
    from lab.stack.lifecycle import Stack

    endpoints = build_endpoints(load_config(environ={}), PORTS)
    monkeypatch.setattr(lab.host.prepare, "prepare", lambda say: "base")
    monkeypatch.setattr(Stack, "up", lambda self, say: endpoints)
    monkeypatch.setattr(lab.clients.check, "run_checks", lambda ep: iter(
        [("GET via noauth", True, "HTTP 200"), ("DNS SRV _ldap", False, "no answer")]))
    assert main.main(["up", "--check"]) == 1
    out, err = capsys.readouterr()
    table, checks = out.split("\nok   ")
    assert table.startswith("what ")
    assert checks.splitlines() == ["GET via noauth: HTTP 200", "FAIL DNS SRV _ldap: no answer"]
    assert "1 check(s) failed" in err
