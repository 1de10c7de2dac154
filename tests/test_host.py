"""Host preparation refuses clearly where it cannot install (no Docker needed)."""

import pytest

from lab.errors import HostError
from lab.host import apt, prepare


def test_not_debian_names_what_to_install(monkeypatch):
    monkeypatch.setattr(apt, "debian_release", lambda: None)
    with pytest.raises(HostError, match="not Debian 12 or 13.*install the Docker engine"):
        apt._require_installable("the Docker engine")


def test_not_root_names_the_fix(monkeypatch):
    monkeypatch.setattr(apt, "debian_release", lambda: 12)
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    with pytest.raises(HostError, match="needs root.*sudo make lab-up"):
        apt._require_installable("Docker Compose v2")


def test_engine_missing_and_not_installable(monkeypatch):
    monkeypatch.setattr(prepare, "engine_answers", lambda: False)
    monkeypatch.setattr(prepare.shutil, "which", lambda name: None)
    monkeypatch.setattr(apt, "debian_release", lambda: None)
    with pytest.raises(HostError, match="Docker engine is missing"):
        prepare.ensure_engine(lambda message: None)


@pytest.mark.parametrize("text, release", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n', 12),
    ('ID="debian"\nVERSION_ID="13"\n', 13),
    ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', None),
    ('ID=debian\n', None),                       # testing/sid: no VERSION_ID
])
def test_debian_release_reads_os_release(tmp_path, text, release):
    (tmp_path / "os-release").write_text(text)
    assert apt.debian_release(tmp_path / "os-release") == release
    assert apt.debian_release(tmp_path / "missing") is None


def test_mirror_is_a_url():
    assert apt._debian_mirror().startswith("http")


def test_client_tools_add_python_headers_when_missing(monkeypatch, tmp_path):
    """gssapi and krb5 build from source: without Python.h (python3-dev, not on a fresh
    Debian) the Kerberos step fails, so it is installed with the client tools."""
    import sysconfig

    installed = []
    monkeypatch.setattr(prepare.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(prepare, "_require_installable", lambda what, target="lab-up": 12)
    monkeypatch.setattr(prepare, "_apt_install", lambda pkgs, say: installed.extend(pkgs))
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"include": str(tmp_path)})
    prepare.ensure_client_tools(lambda message: None)
    assert installed == []                      # the lab alone builds nothing
    prepare.ensure_client_tools(lambda message: None, tests=True)
    assert installed == ["python3-dev"]
    installed.clear()
    (tmp_path / "Python.h").write_text("")
    prepare.ensure_client_tools(lambda message: None, tests=True)
    assert installed == []
