"""Toxic schema, `attr=value` parsing and port resolution: pure, no network."""

import json

import pytest

from lab.faults import client
from lab.faults.__main__ import load_specs
from lab.faults.proxy import split_address
from lab.faults.schema import ApiError, FaultRequestError, parse_assignments, toxic_from_json


def test_parse_assignments_types_and_defaults():
    assert parse_assignments("latency", ["latency=100", "jitter = 5"]) == {
        "latency": 100, "jitter": 5}
    assert parse_assignments("timeout", []) == {}


@pytest.mark.parametrize("kind, args, message", [
    ("latncy", [], "unknown toxic 'latncy' (known: latency, bandwidth, slicer, timeout, "
                   "reset_peer, limit_data, slow_close, ntlm_close)"),
    ("latency", ["latncy=1"], "latency has no attribute 'latncy' (known: latency, jitter)"),
    ("latency", ["latency=fast"], "latency latency wants an integer (ms), got 'fast'"),
    ("latency", ["latency"], "'latency' is not attr=value"),
    ("bandwidth", ["rate=-1"], "bandwidth rate must not be negative, got -1"),
    ("slicer", ["average_size=10", "size_variation=10"],
     "slicer size_variation must be below average_size"),
])
def test_parse_assignments_one_line_errors(kind, args, message):
    with pytest.raises(FaultRequestError) as caught:
        parse_assignments(kind, args)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_toxic_json_defaults_are_toxiproxys():
    toxic = toxic_from_json({"type": "latency", "attributes": {"latency": 10}})
    assert toxic.to_json() == {"attributes": {"latency": 10, "jitter": 0},
                               "name": "latency_downstream", "type": "latency",
                               "stream": "downstream", "toxicity": 1.0}


@pytest.mark.parametrize("body, status", [
    ({"type": "nope"}, 400), ({"type": "latency", "stream": "sideways"}, 400),
    ({"type": "latency", "attributes": {"latency": 1.5}}, 400),
    ({"type": "latency", "attributes": {"latency": True}}, 400),
    ({"type": "latency", "toxicity": 2}, 400), ([], 400),
])
def test_bad_toxics_are_400(body, status):
    with pytest.raises(ApiError) as caught:
        toxic_from_json(body)
    assert caught.value.status == status


PROXIES = {"proxy_basic": {"listen": "0.0.0.0:13129", "upstream": "proxy:3129"},
           "web": {"listen": "0.0.0.0:18080", "upstream": "web:8080"}}


@pytest.mark.parametrize("port, name", [("web", "web"), ("basic", "proxy_basic"),
                                        ("proxy_basic", "proxy_basic"), (13129, "proxy_basic"),
                                        ("8080", "web")])
def test_resolve_names_and_ports(port, name):
    assert client.resolve(port, PROXIES) == name


def test_resolve_unknown_is_one_line():
    with pytest.raises(FaultRequestError, match=r"^no fault proxy for port 'ftp' \(proxies: "
                                         r"proxy_basic, web\)$"):
        client.resolve("ftp", PROXIES)


def test_add_checks_before_any_network():
    with pytest.raises(FaultRequestError, match="unknown toxic"):
        client.add("web", "lag", [], url="http://127.0.0.1:9")
    with pytest.raises(FaultRequestError, match="has no attribute"):
        client.add("web", "latency", {"lag": 1}, url="http://127.0.0.1:9")


def test_addresses():
    assert split_address("proxy:3129") == ("proxy", 3129)
    assert split_address(":8474", "0.0.0.0") == ("0.0.0.0", 8474)
    assert split_address("[::1]:80") == ("::1", 80)
    with pytest.raises(ApiError):
        split_address("nohost")


def test_config_file_and_args(tmp_path):
    config = tmp_path / "faults.json"
    config.write_text(json.dumps([{"name": "proxy_basic", "listen": "0.0.0.0:13129",
                                   "upstream": "proxy:3129"}]))
    specs = load_specs(str(config), [["web", "0.0.0.0:18080", "web:8080"]])
    assert [s["name"] for s in specs] == ["proxy_basic", "web"]
    config.write_text('{"name": "x"}')
    with pytest.raises(ValueError):
        load_specs(str(config), [])
