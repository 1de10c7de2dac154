"""Host preparation refuses clearly where it cannot install (no Docker needed)."""

import subprocess

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


def _fake_mmdebstrap(tmp_path, monkeypatch, script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "mmdebstrap"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_the_root_file_system_started_ahead_is_a_tar_file(tmp_path, monkeypatch):
    # mmdebstrap OPTIONS... SUITE TARGET MIRROR
    _fake_mmdebstrap(tmp_path, monkeypatch, 'eval suite=\\${$(($# - 2))} target=\\${$(($# - 1))}; '
                                            'echo "$suite" > "$target"')
    said = []
    ahead = prepare.RootFilesystem(said.append)
    try:
        tarball = ahead.wait(timeout=30)
        assert tarball.read_text() == "bookworm\n"
        assert said == ["Debian bookworm's root file system (mmdebstrap), in the background"]
    finally:
        ahead.close()
    assert not tarball.exists()                 # its file goes with it


def test_a_failed_root_file_system_says_why_and_one_stopped_early_leaves_nothing(
        tmp_path, monkeypatch):
    _fake_mmdebstrap(tmp_path, monkeypatch, 'echo "E: Failed getting release file"; exit 1')
    ahead = prepare.RootFilesystem(lambda _m: None)
    with pytest.raises(HostError, match="mmdebstrap .* failed \\(exit 1\\): E: Failed getting"):
        ahead.wait(timeout=30)
    ahead.close()
    marker = tmp_path / "finished"
    (tmp_path / "bin" / "mmdebstrap").write_text(f"#!/bin/sh\nsleep 30; touch {marker}\n")
    ahead = prepare.RootFilesystem(lambda _m: None)
    ahead.close()                                # Ctrl-C, an error elsewhere: stopped at once
    assert not marker.exists() and not ahead.tarball.parent.exists()


def test_lab_host_asks_nothing_again_of_an_engine_compose_and_base_image_that_are_there(
        monkeypatch, capsys):
    order = []

    def never(*_args):
        raise AssertionError("asked again")

    monkeypatch.setattr(prepare, "_ready_as_is", lambda: "lab-base/debian:bookworm")
    for name in ("base_image_must_be_made", "RootFilesystem", "ensure_engine",
                 "ensure_compose", "ensure_base_image", "present_base_image"):
        monkeypatch.setattr(prepare, name, never)
    monkeypatch.setattr(prepare, "ensure_client_tools", lambda say: order.append("clients"))
    assert prepare.main(["--tools", "--base-image"]) == 0
    assert order == ["clients"]                 # the clients are still made sure of
    assert "[3/5 base image] base image: lab-base/debian:bookworm" in capsys.readouterr().err


def test_lab_host_starts_the_root_file_system_before_apt_when_the_base_image_is_made(monkeypatch,
                                                                                 capsys):
    order = []

    class Ahead:
        def __init__(self, say):
            order.append("root file system started")

        def close(self):
            order.append("root file system closed")

    monkeypatch.setattr(prepare, "_ready_as_is", lambda: None)        # a fresh machine
    monkeypatch.setattr(prepare, "base_image_must_be_made", lambda: True)
    monkeypatch.setattr(prepare, "RootFilesystem", Ahead)
    monkeypatch.setattr(prepare, "ensure_engine", lambda say: order.append("engine"))
    monkeypatch.setattr(prepare, "ensure_compose", lambda say: order.append("compose"))
    monkeypatch.setattr(prepare, "ensure_client_tools", lambda say: order.append("clients"))
    monkeypatch.setattr(prepare, "ensure_base_image",
                        lambda say, ahead: order.append(f"base image from {type(ahead).__name__}")
                        or "lab-base/debian:bookworm")
    assert prepare.main(["--tools", "--base-image"]) == 0
    assert order == ["root file system started", "engine", "compose", "clients",
                     "base image from Ahead", "root file system closed"]
    err = capsys.readouterr().err
    assert "[2/5 host: Docker engine, Compose, client tools] done" in err
    assert "[3/5 base image] done" in err

    # an error on the way: said in one line, under the part it happened in; mmdebstrap
    # stopped all the same
    order.clear()

    def no_engine(say):
        raise HostError("the Docker engine is missing")

    monkeypatch.setattr(prepare, "ensure_engine", no_engine)
    assert prepare.main(["--tools", "--base-image"]) == 1
    assert order == ["root file system started", "root file system closed"]
    assert "lab: error: [2/5 host: Docker engine, Compose, client tools] the Docker engine " \
           "is missing" in capsys.readouterr().err


class _Host:
    """What ensure_engine asks of a machine where docker.io is being installed: each
    command's exit code (0 unless said), and the steps it took, in order."""

    def __init__(self, monkeypatch, tmp_path, answers, codes=None):
        self.steps, self.said = [], []
        self.codes = codes or {}
        self.legacy = {name: tmp_path / name for name in prepare.LEGACY_IPTABLES}
        for path in self.legacy.values():
            path.touch()
        answers = iter(answers)
        monkeypatch.setattr(prepare, "LEGACY_IPTABLES",
                            {k: str(v) for k, v in self.legacy.items()})
        monkeypatch.setattr(prepare, "engine_answers", lambda: next(answers))
        monkeypatch.setattr(prepare.shutil, "which", lambda name: None)
        monkeypatch.setattr(prepare, "_require_installable", lambda what: 12)
        monkeypatch.setattr(prepare, "_apt_install", lambda pkgs, say: self.steps.append(pkgs))
        monkeypatch.setattr(prepare, "_quiet", self.run)
        monkeypatch.setattr(prepare.os, "geteuid", lambda: 0)
        monkeypatch.setattr(prepare, "_DOCKERD_LOG", tmp_path / "dockerd.log")
        monkeypatch.setattr(prepare.subprocess, "Popen",
                            lambda cmd, **kw: self.steps.append(cmd))
        for name in ("DOCKER_HOST", "DOCKER_CONTEXT"):     # this machine's engine
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))

    def run(self, cmd, timeout=30):
        code = self.codes.get(cmd[0] if cmd[0] != "update-alternatives" else cmd[2], 0)
        if cmd[0] == "update-alternatives":
            self.steps.append(cmd)
        return subprocess.CompletedProcess(cmd, code, "", "refused" if code else "")

    def switch(self, name):
        return ["update-alternatives", "--set", name, str(self.legacy[name])]


def test_an_engine_installed_here_starts_on_legacy_iptables(monkeypatch, tmp_path):
    """dockerd's first start on a machine where lab.host installed it comes after
    iptables is switched to its legacy backend (no dockerd runs, none left chains in
    nft: `iptables-nft -L DOCKER` fails, as `pidof dockerd` does)."""
    host = _Host(monkeypatch, tmp_path, [False, False, True],
                 {"pidof": 1, "iptables-nft": 1})
    prepare.ensure_engine(host.said.append)
    assert host.steps == [["docker.io"], host.switch("ip6tables"), host.switch("iptables"),
                          ["dockerd"]]


@pytest.mark.parametrize("refusing, why", [
    ({"pidof", "iptables-nft", "legacy"}, "no legacy tables in this kernel"),
    ({"pidof"}, "an engine left its chains in nft"),
    ({"iptables-nft"}, "a dockerd runs already"),
])
def test_legacy_iptables_only_where_it_is_safe(monkeypatch, tmp_path, refusing, why):
    """`refusing`: the probes that exit 1 (pidof: no dockerd; iptables-nft -L DOCKER: no
    chain of an engine; the legacy iptables: no tables in this kernel)."""
    host = _Host(monkeypatch, tmp_path, [False, False, True])
    host.codes = {(str(host.legacy["iptables"]) if name == "legacy" else name): 1
                  for name in refusing}
    prepare.ensure_engine(host.said.append)
    assert host.steps == [["docker.io"], ["dockerd"]], why


def test_legacy_iptables_refused_is_said_and_dockerd_starts(monkeypatch, tmp_path):
    host = _Host(monkeypatch, tmp_path, [False, False, True],
                 {"pidof": 1, "iptables-nft": 1, "ip6tables": 2})
    prepare.ensure_engine(host.said.append)
    assert host.steps == [["docker.io"], host.switch("ip6tables"), ["dockerd"]]
    assert any("ip6tables left as it was: refused" in line for line in host.said)


def test_an_engine_the_package_started_is_left_as_it_is(monkeypatch, tmp_path):
    host = _Host(monkeypatch, tmp_path, [False, True], {"pidof": 1, "iptables-nft": 1})
    prepare.ensure_engine(host.said.append)
    assert host.steps == [["docker.io"]]


def test_a_host_that_needs_nothing_is_asked_once_side_by_side(monkeypatch):
    """An engine not on a local socket: engine, Compose and the base image asked at
    once (the engine's questions each a `docker` run); nothing installed or started.
    When one of them is missing, the steps that provide it run as before."""
    import threading

    asked = []
    together = threading.Barrier(4, timeout=10)     # broken unless all four ask at once
    monkeypatch.setattr(prepare.local_engine, "socket_path", lambda: None)   # a remote one

    def answer(what, value):
        def ask(*_args):
            asked.append(what)
            together.wait()
            return value
        return ask

    monkeypatch.setattr(prepare, "engine_answers", answer("engine", True))
    monkeypatch.setattr(prepare, "compose_answers", answer("compose", True))
    images = {prepare.UPSTREAM_BASE_IMAGE: False, prepare.LOCAL_BASE_IMAGE: True}
    monkeypatch.setattr(prepare, "_image_exists", lambda name: answer(name, images[name])())
    monkeypatch.setattr(prepare, "ensure_engine", lambda say: asked.append("ENSURE engine"))
    monkeypatch.setattr(prepare, "ensure_compose", lambda say: asked.append("ENSURE compose"))
    monkeypatch.setattr(prepare, "ensure_base_image",
                        lambda say: asked.append("ENSURE base") or "made")
    assert prepare.prepare(lambda _m: None) == prepare.LOCAL_BASE_IMAGE
    assert sorted(asked) == sorted(["engine", "compose", *images])
    asked.clear()
    together.reset()
    monkeypatch.setattr(prepare, "compose_answers", answer("compose", False))
    assert prepare.prepare(lambda _m: None) == "made"
    assert asked[-3:] == ["ENSURE engine", "ENSURE compose", "ENSURE base"]
