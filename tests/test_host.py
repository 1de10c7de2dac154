"""Host preparation refuses clearly where it cannot install (no Docker needed)."""

import pytest

from lab import apt, host
from lab.errors import HostError


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
    monkeypatch.setattr(host, "engine_answers", lambda: False)
    monkeypatch.setattr(host.shutil, "which", lambda name: None)
    monkeypatch.setattr(apt, "debian_release", lambda: None)
    with pytest.raises(HostError, match="Docker engine is missing"):
        host.ensure_engine(lambda message: None)


def test_debian_release_reads_os_release():
    release = apt.debian_release()
    assert release is None or release >= 12


def test_mirror_is_a_url():
    assert apt._debian_mirror().startswith("http")
