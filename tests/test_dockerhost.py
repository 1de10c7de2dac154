"""Which engine, and where its published ports are (lab.config.dockerhost), as Docker decides."""

import hashlib
import json

import pytest

from lab.config import dockerhost
from lab.config.discovery import load_config
from lab.endpoints import build_endpoints
from lab.errors import ConfigError
from lab.stack.pac_file import pac_views
from tests.test_endpoints import PORTS


def _context(tmp_path, name, host, current=True):
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))
    if current:
        (tmp_path / "config.json").write_text(json.dumps({"currentContext": name}))


def test_docker_host_wins_then_the_context_then_the_local_socket(tmp_path):
    _context(tmp_path, "far", "tcp://10.9.8.7:2376")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert dockerhost.docker_host(env) == "tcp://10.9.8.7:2376"
    assert dockerhost.docker_host({**env, "DOCKER_HOST": "ssh://me@box"}) == "ssh://me@box"
    assert dockerhost.docker_host({**env, "DOCKER_CONTEXT": "default"}) is None
    assert dockerhost.docker_host({"DOCKER_CONFIG": str(tmp_path / "none")}) is None


def test_an_unknown_context_is_one_line_naming_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="docker context 'gone' .*docker context ls"):
        dockerhost.docker_host({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})


@pytest.mark.parametrize(("host", "address"), [
    (None, None), ("unix:///var/run/docker.sock", None), ("tcp://127.0.0.1:2375", None),
    ("tcp://localhost:2375", None), ("tcp://10.1.2.3:2375", "10.1.2.3"),
    ("ssh://me@build.example.com", "build.example.com"), ("tcp://[fd00::5]:2376", "fd00::5")])
def test_engine_address(host, address):
    assert dockerhost.engine_address(host) == address


def test_public_host():
    assert dockerhost.public_host("127.0.0.1", None) == "127.0.0.1"
    assert dockerhost.public_host("0.0.0.0", None) == "127.0.0.1"
    assert dockerhost.public_host("0.0.0.0", "10.1.2.3") == "10.1.2.3"
    assert dockerhost.public_host("10.1.2.3", "box") == "10.1.2.3"
    with pytest.raises(ConfigError, match="set LAB_BIND=0.0.0.0"):
        dockerhost.public_host("127.0.0.1", "10.1.2.3")


def test_a_remote_engine_moves_every_endpoint_to_its_host(tmp_path):
    config = load_config(environ={"DOCKER_HOST": "tcp://10.1.2.3:2375", "LAB_BIND": "0.0.0.0",
                                  "LAB_STATE_HOME": str(tmp_path)})
    assert config.compose_env()["LAB_BIND"] == "0.0.0.0"
    ep = build_endpoints(config, PORTS)
    assert {p.connect_address for p in ep.proxy.values()} == {"10.1.2.3"}
    assert ep.dns.host == ep.dc.ldap.host == ep.faults_api.host == "10.1.2.3"
    assert ep.web.url == "http://10.1.2.3:8080/" and ep.web.https_url == "https://10.1.2.3:8443/"
    assert ep.pac_url == "http://10.1.2.3:8080/proxy.pac"
    assert "PROXY 10.1.2.3:3128" in pac_views(config, config.ports).host


def test_the_web_certificate_names_a_remote_engines_host(tmp_path):
    from cryptography import x509

    from lab.stack.certs import WEB_TLS_FILE, ensure_web_certificate

    config = load_config(environ={"DOCKER_HOST": "tcp://10.1.2.3:2375", "LAB_BIND": "0.0.0.0",
                                  "LAB_STATE_HOME": str(tmp_path)})
    ensure_web_certificate(config)
    leaf = x509.load_pem_x509_certificates((config.state_dir / WEB_TLS_FILE).read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.1.2.3" in {str(a) for a in san.get_values_for_type(x509.IPAddress)}


def test_a_bad_lab_bind_is_one_line():
    with pytest.raises(ConfigError, match="LAB_BIND='everywhere'"):
        load_config(environ={"LAB_BIND": "everywhere"})


def test_lab_allow_admits_its_networks_the_lab_and_loopback_beyond_loopback(tmp_path):
    import ipaddress

    local = load_config(environ={"LAB_STATE_HOME": str(tmp_path)})
    assert local.compose_env()["LAB_ADMITTED"] == "0.0.0.0/0"      # loopback: anyone
    config = load_config(environ={"LAB_BIND": "0.0.0.0", "LAB_STATE_HOME": str(tmp_path),
                                  "LAB_ALLOW": "10.0.0.0/24, 192.168.1.7"})
    assert config.allow == (ipaddress.IPv4Network("10.0.0.0/24"),
                            ipaddress.IPv4Network("192.168.1.7/32"))
    assert config.compose_env()["LAB_ADMITTED"] == \
        f"10.0.0.0/24,192.168.1.7/32,{config.subnet},127.0.0.0/8"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "everyone", "fd00::/8", "10.0.0.0/24;x"])
def test_a_bad_lab_allow_is_one_line_naming_the_form(value):
    with pytest.raises(ConfigError, match=r"LAB_ALLOW: .* is not an IPv4 network; give") as info:
        load_config(environ={"LAB_ALLOW": value})
    assert "\n" not in str(info.value)


def test_publishing_beyond_loopback_needs_lab_allow(tmp_path):
    from lab.errors import StackError
    from lab.stack.preflight import check_admission

    check_admission(load_config(environ={"LAB_STATE_HOME": str(tmp_path)}))
    state = {"LAB_STATE_HOME": str(tmp_path)}
    check_admission(load_config(environ={"LAB_BIND": "0.0.0.0", "LAB_ALLOW": "10.0.0.0/8",
                                         **state}))
    with pytest.raises(StackError, match="LAB_BIND=0.0.0.0 publishes the lab beyond this "
                                         "machine: set LAB_ALLOW"):
        check_admission(load_config(environ={"LAB_BIND": "0.0.0.0", **state}))
