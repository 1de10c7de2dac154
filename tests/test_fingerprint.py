"""Fingerprints: a change reaches exactly the services built from it."""

import shutil

from lab.config.discovery import load_config
from lab.stack.fingerprint import fingerprints
from tests.integration.helpers import copy_repo


def test_users_change_reaches_dc_and_proxy_only(tmp_path):
    root = copy_repo(tmp_path)
    before = fingerprints(load_config(root, environ={}))
    assert before == fingerprints(load_config(root, environ={}))
    with open(root / "lab.toml", "a") as toml:     # replaces the default's carol
        toml.write('\n[[users]]\nname = "carol"\npassword = "Hazel+Nut-32"\n'
                   'in = ["htpasswd"]\n')
    after = fingerprints(load_config(root, environ={}))
    assert {s for s in before if before[s] != after[s]} == {"dc", "proxy"}


def test_a_web_module_change_reaches_web_only(tmp_path):
    root = copy_repo(tmp_path)
    before = fingerprints(load_config(root, environ={}))
    with open(root / "lab" / "web" / "server.py", "a") as module:
        module.write("\n# changed\n")
    shutil.rmtree(root / "lab" / "web" / "__pycache__", ignore_errors=True)
    after = fingerprints(load_config(root, environ={}))
    assert {s for s in before if before[s] != after[s]} == {"web"}


def test_a_port_change_reaches_every_service(tmp_path):
    root = copy_repo(tmp_path)
    before = fingerprints(load_config(root, environ={}))
    after = fingerprints(load_config(root, environ={"LAB_PORT_WEB": "18080"}))
    assert all(before[s] != after[s] for s in before)


def test_a_dns_change_reaches_dns_dc_and_proxy(tmp_path):
    """A new bind has none of the DC's dynamic records: the DC must start again (and
    register them), and the proxy must join that new DC."""
    root = copy_repo(tmp_path)
    before = fingerprints(load_config(root, environ={}))
    zone = next(root.rglob("images/dns/zone.template"))
    zone.write_text(zone.read_text() + "; changed\n")
    after = fingerprints(load_config(root, environ={}))
    assert {s for s in before if before[s] != after[s]} == {"dns", "dc", "proxy"}


def test_a_changed_pac_recreates_web_only_and_a_new_corporate_ca_the_proxy_only(tmp_path):
    from lab.stack import state_files
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path)})
    state_files.prepare(config)
    before = fingerprints(config)
    (config.state_dir / "pac" / "host.pac").write_text("function FindProxyForURL() {}\n")
    after_pac = fingerprints(config)
    assert {s for s in before if before[s] != after_pac[s]} == {"web"}
    for name in ("corporate-ca.pem", "corporate-ca.key"):
        (config.state_dir / name).unlink()
    state_files.prepare(config)                       # a new corporate CA, a new PAC
    after_ca = fingerprints(config)
    assert {s for s in after_pac if after_pac[s] != after_ca[s]} == {"proxy", "web"}


def test_no_service_bind_mounts_a_path_of_this_host():
    """With DOCKER_HOST naming another machine, a host path would name a path THERE:
    files reach containers as compose configs with inline content instead."""
    import re

    from lab.config.discovery import package_dir

    text = (package_dir(None) / "share" / "docker-compose.yml").read_text()
    mounts = re.findall(r"^\s+- +['\"]?([^\s'\"]+:/[^\s'\"]*)", text, re.MULTILINE)
    assert mounts == ["lab-shared:/lab-shared", "lab-shared:/lab-shared:ro"]
    for service in ("dc", "proxy", "web"):
        variable = f"LAB_FILES_{service.upper()}"
        assert re.search(rf"^  {service}_files:\n    content: \$\{{{variable}:-\}}$", text,
                         re.MULTILINE)
