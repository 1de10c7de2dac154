"""The typed endpoints model and the `lab status --json` document it produces."""

import json
from pathlib import Path

from lab.config.discovery import load_config
from lab.endpoints import Endpoints, build_endpoints

#: The default published ports (what lab.toml says), by [ports] name.
PORTS = {"proxy_noauth": 3128, "proxy_basic": 3129, "proxy_ldap": 3130,
         "proxy_negotiate": 3131, "proxy_ntlm": 3132, "proxy_group": 3133,
         "proxy_bump": 3134, "proxy_corp": 3135, "socks": 1080, "dns": 10053,
         "ldap": 10389, "kerberos": 10088, "web": 8080, "web_https": 8443,
         "faults_api": 8474}
STORED = Path(__file__).parent / "data" / "status.json"


def _endpoints(**env):
    config = load_config(environ={"LAB_STATE_HOME": "/home/user/.local/state", **env})
    return build_endpoints(config, PORTS)


def _missing(stored, doc, where="") -> list[str]:
    """Keys (and values) of `stored` that `doc` lacks or changed: additions are fine."""
    if isinstance(stored, dict) and isinstance(doc, dict):
        return [m for key, value in stored.items()
                for m in (_missing(value, doc[key], f"{where}.{key}") if key in doc
                          else [f"{where}.{key} (gone)"])]
    return [] if stored == doc else [f"{where}: {stored!r} -> {doc!r}"]


def test_status_json_keeps_every_key_and_value_it_had():
    """Pinned against the document the untyped code produced (tests/data/status.json):
    clients of `lab status --json` keep working as keys are added."""
    assert _missing(json.loads(STORED.read_text()), _endpoints().to_json()) == []


def test_status_json_says_where_tls_inspection_pac_and_socks_are():
    doc = _endpoints().to_json()
    assert doc["proxy"]["bump"] == {"host": "127.0.0.1", "port": 3134}
    socks = doc["proxy"]["socks"]
    assert (socks["host"], socks["port"], socks["scheme"]) == ("127.0.0.1", 1080, "socks5h")
    assert socks["username"] and socks["password"]
    assert doc["corporate_ca"] == "/home/user/.local/state/lab/lab/corporate-ca.pem"
    assert doc["pac"] == {"url": "http://127.0.0.1:8080/proxy.pac"}


def test_the_pac_path_is_the_one_the_web_service_serves():
    from lab.endpoints import PROXY_PAC
    from lab.web.resources import PROXY_PAC as SERVED

    assert PROXY_PAC == SERVED


def test_round_trip_through_json():
    endpoints = _endpoints()
    assert Endpoints.from_json(json.loads(json.dumps(endpoints.to_json()))) == endpoints


def test_attributes_say_how_to_reach_each_port():
    ep = _endpoints()
    negotiate = ep.proxy["negotiate"]
    assert negotiate.host == "proxy.ad.example.com" and negotiate.connect_address == "127.0.0.1"
    assert ep.proxy["basic"].connect_address == "127.0.0.1"
    assert ep.proxy["basic"].url == "http://127.0.0.1:3129"
    assert ep.proxy["noauth"].username is None
    group = ep.proxy["group"]
    assert group.username != group.denied_username and group.denied_password
    assert ep.dc.kerberos.port == 10088 and ep.web.ca_cert.endswith("web-ca.pem")


def test_passwords_stay_out_of_repr():
    ep = _endpoints()
    for port in ep.proxy.values():
        if port.password:
            assert port.password not in repr(port)


def test_roles_come_from_the_configuration():
    config = load_config(environ={})
    ep = build_endpoints(config, PORTS)
    assert ep.proxy["basic"].username == config.roles.basic.name
    assert ep.proxy["ntlm"].username == config.roles.domain.name
    assert ep.proxy["group"].denied_username == config.roles.group_denied.name
    assert ep.proxy["ldap"].uncached_username == config.roles.uncached.name
    assert ep.proxy["ldap"].uncached_password == config.roles.uncached.password
    assert "uncached_username" not in ep.proxy["basic"].to_json()
    assert {ep.proxy[name].wrong_username for name in ("basic", "ldap", "ntlm", "group",
                                                       "socks")} == {"frank"}
    assert ep.proxy["noauth"].wrong_username is None


def test_a_port_docker_did_not_publish_is_named():
    import pytest

    from lab.errors import LabNotRunning

    with pytest.raises(LabNotRunning, match="proxy_ntlm"):
        build_endpoints(load_config(environ={}), {**PORTS, "proxy_ntlm": None})
