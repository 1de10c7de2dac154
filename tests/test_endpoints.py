"""The typed endpoints model and the `lab status --json` document it produces."""

import json
from pathlib import Path

from lab.config import load_config
from lab.endpoints import Endpoints, build_endpoints

#: The default published ports (what lab.toml says), by [ports] name.
PORTS = {"proxy_noauth": 3128, "proxy_basic": 3129, "proxy_ldap": 3130,
         "proxy_negotiate": 3131, "proxy_ntlm": 3132, "proxy_group": 3133, "dns": 10053,
         "ldap": 10389, "kerberos": 10088, "web": 8080, "web_https": 8443,
         "faults_api": 8474}
STORED = Path(__file__).parent / "data" / "status.json"


def _endpoints(**env):
    config = load_config(environ={"LAB_STATE_HOME": "/home/user/.local/state", **env})
    return build_endpoints(config, PORTS)


def test_status_json_keeps_every_key_and_value_it_had():
    """Pinned against the document the untyped code produced (tests/data/status.json)."""
    assert _endpoints().to_json() == json.loads(STORED.read_text())


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


def test_a_port_docker_did_not_publish_is_named():
    import pytest

    from lab.errors import LabNotRunning

    with pytest.raises(LabNotRunning, match="proxy_ntlm"):
        build_endpoints(load_config(environ={}), {**PORTS, "proxy_ntlm": None})
