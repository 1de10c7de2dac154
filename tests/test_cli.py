import pytest

from lab import cli
from lab.config import load_config
from lab.stack import build_endpoints


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["explode"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_service_for_logs(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["logs", "mailserver"])
    assert exc.value.code == 2
    assert "dns" in capsys.readouterr().err


def test_no_command_prints_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main([])
    assert "usage: lab" in capsys.readouterr().err


def test_config_error_is_one_clean_line(monkeypatch, capsys):
    monkeypatch.setenv("LAB_PORT_WEB", "not-a-port")
    assert cli.main(["status", "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lab: error: LAB_PORT_WEB") and err.count("\n") == 1


PORTS = {"proxy_noauth": 1, "proxy_basic": 2, "proxy_ldap": 3, "dns": 4, "ldap": 5,
         "kerberos": 6, "web": 7, "web_https": 8, "proxy_negotiate": 9, "proxy_ntlm": 10,
         "proxy_group": 11}


def test_endpoints_document_shape():
    ep = build_endpoints(load_config(environ={}), PORTS)
    assert ep["proxy"]["noauth"] == {"host": "127.0.0.1", "port": 1}
    assert set(ep["proxy"]["basic"]) == {"host", "port", "username", "password"}
    assert ep["dc"]["ldap"]["port"] == 5 and ep["dc"]["kerberos"]["port"] == 6
    assert ep["web"]["url"] == "http://127.0.0.1:7/"
    assert ep["web"]["proxy_url"] == "http://web.ad.example.com/"
    assert ep["web"]["https_url"] == "https://localhost:8/"
    assert ep["web"]["https_proxy_url"] == "https://web.ad.example.com/"
    assert ep["web"]["ca_cert"].endswith("web-ca.pem")
    assert ep["host_interface"] == "172.29.53.1"
    negotiate = ep["proxy"]["negotiate"]
    assert negotiate["host"] == "proxy.ad.example.com" and negotiate["address"] == "127.0.0.1"
    group = ep["proxy"]["group"]
    assert {"username", "password", "denied_username", "denied_password"} <= set(group)
    assert group["username"] != group["denied_username"]


def test_human_table_names_every_endpoint():
    table = cli.format_endpoints(build_endpoints(load_config(environ={}), PORTS))
    for needle in ("proxy noauth", "proxy basic", "proxy ldap", "proxy negotiate",
                   "proxy ntlm", "proxy group", "dns", "dc ldap",
                   "dc kerberos", "web", "curl -x"):
        assert needle in table
