"""A private lab built from a copy of the repo: a user added to lab.toml, and a default
user's password changed, work after the next `lab up` (only dc and proxy recreated,
nothing rebuilt), and a DC recreated under a running proxy is noticed (unhealthy) and
mended by `lab up`."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.clients.ad import KerberosError, kinit
from lab.clients.curl import proxy_args
from lab.config.discovery import load_config, load_file
from lab.endpoints import Endpoints
from lab.mockweb import SAMPLE_RESOURCE
from lab.stack.lifecycle import Stack
from lab.testing.side_by_side import side_by_side_env
from tests.integration.helpers import copy_repo, curl, remove_private_lab, run_lab

pytestmark = pytest.mark.private_lab

PROJECT = "lab-changes-test"
SUBNET = "172.29.56.0/24"
NEW_USER = ("dave", "Harbour-Light-55")
#: a default account the image holds, given a password of the project's own
CHANGED_PASSWORD = ("bob", "Marmalade-78?")


@pytest.fixture(scope="module")
def copy_env(tmp_path_factory):
    root = copy_repo(tmp_path_factory.mktemp("labcopy"))
    env = side_by_side_env(PROJECT, SUBNET, root=root)
    yield root, env
    remove_private_lab(env)


def lab(env, *args, timeout=400):
    return run_lab(*args, env=env, timeout=timeout)


def container_ids(env) -> dict[str, str]:
    out = subprocess.run(["docker", "ps", "--no-trunc", "--filter",
                          f"label=com.docker.compose.project={PROJECT}", "--format",
                          '{{.Label "com.docker.compose.service"}} {{.ID}}'],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return dict(line.split() for line in out.splitlines())


def status(env) -> Endpoints:
    return Endpoints.from_json(json.loads(lab(env, "status", "--json").stdout))


def ntlm_works(endpoints, user, password) -> bool:
    proxy = endpoints.proxy["ntlm"]
    url = endpoints.web.proxy_url + "simpleresource"
    args = proxy_args(proxy, workgroup=endpoints.dc.workgroup, user=user, password=password)
    return curl(url, *args) == (200, SAMPLE_RESOURCE)


@pytest.mark.timeout(600)
def test_added_user_works_after_the_next_up(copy_env, tmp_path):
    root, env = copy_env
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    before = container_ids(env)

    user, password = NEW_USER
    changed, new_password = CHANGED_PASSWORD
    packaged = load_file(Path(str(load_config(root, environ={}).origin.default_file)),
                         environ={})
    old_password = packaged.user(changed).password
    toml = root / "lab.toml"
    toml.write_text(toml.read_text() + f'\n[[users]]\nname = "{user}"\npassword = '
                    f'"{password}"\nin = ["domain"]\ngroups = ["proxy-users"]\n'
                    f'\n[[users]]\nname = "{changed}"\npassword = "{new_password}"\n'
                    'in = ["domain"]\n')
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    assert "building image" not in proc.stderr, "users are not in any image"
    after = container_ids(env)
    assert after["dns"] == before["dns"] and after["web"] == before["web"]
    assert after["dc"] != before["dc"] and after["proxy"] != before["proxy"]

    endpoints = status(env)
    url = endpoints.web.proxy_url + "simpleresource"
    for port in ("ldap", "group"):
        proxy = endpoints.proxy[port]
        assert curl(url, *proxy_args(proxy, user=user, password=password)) == \
            (200, SAMPLE_RESOURCE)
    assert ntlm_works(endpoints, user, password)
    kdc, negotiate = endpoints.dc.kerberos, endpoints.proxy["negotiate"]
    ticket = kinit(user, password, endpoints.dc.realm, kdc.host, kdc.port,
                   directory=tmp_path)
    assert curl(url, *proxy_args(negotiate), env=ticket.env) == (200, SAMPLE_RESOURCE)
    # a default account's password changed: the image's (the packaged one) gives way, at
    # once (AD would take the old one over NTLM for an hour), on every way in
    assert ntlm_works(endpoints, changed, new_password)
    assert not ntlm_works(endpoints, changed, old_password)
    with pytest.raises(KerberosError, match="Preauthentication failed|Password incorrect"):
        kinit(changed, old_password, endpoints.dc.realm, kdc.host, kdc.port,
              directory=tmp_path / "old")
    for password, refused in ((new_password, False), (old_password, True)):
        smb = subprocess.run(["docker", "exec", after["dc"], "smbclient", "-L", "//127.0.0.1",
                              "-U", f"{endpoints.dc.workgroup}\\{changed}%{password}"],
                             capture_output=True, text=True, timeout=30)
        assert (smb.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in smb.stdout + smb.stderr
                ) if refused else smb.returncode == 0, smb.stdout + smb.stderr
    ticket = kinit(changed, new_password, endpoints.dc.realm, kdc.host, kdc.port,
                   directory=tmp_path / changed)
    assert curl(url, *proxy_args(negotiate), env=ticket.env) == (200, SAMPLE_RESOURCE)

    proc = lab(env, "up")                       # nothing changed: a fast no-op
    assert proc.returncode == 0 and "already up" in proc.stderr
    assert container_ids(env) == after


@pytest.mark.timeout(600)
def test_dc_recreated_under_the_proxy_is_noticed_and_mended(copy_env):
    """The next `lab up` recreates the proxy without waiting for docker's next check:
    it took the DC's files (its machine account, the keytab) at its start, and its DC's
    container is newer than its own."""
    root, env = copy_env
    assert lab(env, "up").returncode == 0
    # compose itself recreates the DC, with everything `lab up` would hand it
    Stack(load_config(root, environ=env)).compose.run(
        "up", "-d", "--force-recreate", "--no-deps", "--no-build", "dc", timeout=120)
    proc = lab(env, "up")
    assert proc.returncode == 0, proc.stderr
    assert "recreating proxy (its dc is newer)" in proc.stderr
    endpoints = status(env)
    user = endpoints.proxy["ntlm"]
    assert ntlm_works(endpoints, user.username, user.password)


@pytest.mark.timeout(300)
def test_a_service_that_never_gets_healthy_is_named_and_nothing_is_left(tmp_path):
    root = copy_repo(tmp_path)
    env = side_by_side_env("lab-broken-test", "172.29.57.0/24", root=root)
    state = load_config(root, environ=env).state_dir
    module = root / "lab" / "web" / "server.py"          # the web service dies at start
    module.write_text(module.read_text() + "\nraise RuntimeError('broken on purpose')\n")
    try:
        proc = lab(env, "up")
        assert proc.returncode == 1
        assert "service web is exited" in proc.stderr
        assert "last log lines" in proc.stderr and "Traceback" in proc.stderr
        leftovers = subprocess.run(
            ["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=lab-broken-test"],
            capture_output=True, text=True, timeout=30, check=True).stdout.split()
        assert leftovers == []
    finally:
        remove_private_lab(env)
        shutil.rmtree(state, ignore_errors=True)
