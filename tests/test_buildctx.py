"""The staged build context: what the images are built from, and what fingerprints hash."""

import os
import tomllib
from pathlib import Path

import pytest

from lab.config.discovery import load_config, load_file
from lab.config.topology import SERVICES
from lab.stack import state_files
from lab.stack.build_context import MODULES, context_files, stage
from lab.stack.fingerprint import fingerprints, image_fingerprints

EXTRA_USER = '[[users]]\nname = "dave"\npassword = "Harbour-Light-55"\nin = ["domain"]\n'


def _config(tmp_path, text=""):
    (tmp_path / "proj").mkdir(exist_ok=True)
    (tmp_path / "proj" / "lab.toml").write_text(text)
    return load_config(file=tmp_path / "proj" / "lab.toml",
                       environ={"LAB_STATE_HOME": str(tmp_path / "state")})


def test_context_holds_what_the_dockerfiles_copy(tmp_path):
    files = context_files(_config(tmp_path, EXTRA_USER))
    assert "docker-compose.yml" in files and "images/dc/Dockerfile" in files
    for module in MODULES:                              # a module, or a subpackage
        assert any(f == module or f.startswith(f"{module}/") for f in files), module
    assert not any("__pycache__" in name for name in files)
    for service in SERVICES:                            # every build input is there
        for name in service.build_inputs:
            assert any(f == name or f.startswith(f"{name}/") for f in files), name


def test_stage_writes_scripts_executable_and_drops_stale_files(tmp_path):
    config = _config(tmp_path)
    target = stage(config)
    assert target == config.build_dir
    assert os.access(target / "images" / "dc" / "entrypoint.sh", os.X_OK)
    assert not os.access(target / "images" / "dc" / "Dockerfile", os.X_OK)
    (target / "images" / "old.txt").write_text("left from an older lab")
    before = (target / "lab" / "config" / "model.py").stat().st_mtime_ns
    stage(config)
    assert not (target / "images" / "old.txt").exists()
    assert (target / "lab" / "config" / "model.py").stat().st_mtime_ns == before   # kept


def test_a_projects_extra_user_reaches_dc_and_proxy_only(tmp_path):
    before = fingerprints(_config(tmp_path))
    after = fingerprints(_config(tmp_path, EXTRA_USER))
    assert {s for s in before if before[s] != after[s]} == {"dc", "proxy"}


def test_no_password_but_the_packaged_public_ones_is_in_what_images_are_built_from(tmp_path):
    """A project's passwords (its own, or generated for a lab published beyond
    loopback) reach dc and proxy when their containers are created
    (`lab.stack.state_files`): `docker history` and the image layers hold none. The DC's
    image holds the packaged default's accounts, whose passwords the package publishes."""
    config = _config(tmp_path, EXTRA_USER)
    files = context_files(config)
    assert "lab.toml" not in files
    packaged = Path(str(config.origin.default_file))
    assert files["lab/share/lab.toml"] == packaged.read_bytes()
    default = load_file(packaged, environ={})
    public = {default.admin_password, *(user.password for user in default.users)}
    published = load_config(file=tmp_path / "proj" / "lab.toml",
                            environ={"LAB_STATE_HOME": str(tmp_path / "state"),
                                     "LAB_BIND": "0.0.0.0", "LAB_ALLOW": "10.0.0.0/8"})
    secrets = {config.admin_password, *(user.password for user in config.users),
               published.admin_password, *(user.password for user in published.users)}
    assert "Harbour-Light-55" in secrets and len(secrets - public) > len(config.users)
    for name, content in files.items():
        assert not any(secret.encode() in content for secret in secrets - public), name
    handed = state_files.contents(config)["lab.toml"]
    users = [u["name"] for u in tomllib.loads(handed)["users"]]
    assert "dave" in users and "alice" in users         # the effective configuration
    assert config.admin_password in handed


def test_a_password_change_recreates_dc_and_proxy_and_rebuilds_nothing(tmp_path):
    before = _config(tmp_path, EXTRA_USER)
    after = _config(tmp_path, EXTRA_USER.replace("Harbour-Light-55", "Harbour-Light-56"))
    assert image_fingerprints(before) == image_fingerprints(after)
    old, new = fingerprints(before), fingerprints(after)
    assert {s for s in old if old[s] != new[s]} == {"dc", "proxy"}


def test_an_environment_override_recreates_but_rebuilds_nothing(tmp_path):
    config = _config(tmp_path)
    moved = load_config(file=tmp_path / "proj" / "lab.toml",
                        environ={"LAB_PORT_WEB": "18080", "LAB_PROJECT": "other",
                                 "LAB_STATE_HOME": str(tmp_path / "state")})
    assert image_fingerprints(config) == image_fingerprints(moved)
    assert state_files.contents(config)["lab.toml"] == \
        state_files.contents(moved)["lab.toml"]


def test_a_domain_name_change_rebuilds_the_dc_only_and_recreates_what_starts_from_it(tmp_path):
    before = _config(tmp_path)
    after = _config(tmp_path, '[domain]\nworkgroup = "OTHER"\n')
    old, new = image_fingerprints(before), image_fingerprints(after)
    assert {s for s in old if old[s] != new[s]} == {"dc"}


def test_each_container_gets_its_files_as_one_archive_the_images_script_unpacks(tmp_path):
    """One compose config per container (compose copies each with a run of dockerd's
    binary): a tar archive its image's unpack-files.sh unpacks with the system's tar, each
    file with its mode; the same bytes for the same files."""
    import subprocess

    config = _config(tmp_path)
    state_files.prepare(config)
    archives = state_files.archives(config)
    assert set(archives) == {"LAB_FILES_DC", "LAB_FILES_PROXY", "LAB_FILES_WEB"}
    assert archives == state_files.archives(config)
    made = state_files.contents(config)
    script = config.origin.package / "share" / "images" / "unpack-files.sh"
    for service, wanted in (("dc", {"lab.toml": 0o400}),
                            ("proxy", {"lab.toml": 0o400, "bump-ca.pem": 0o400,
                                       "web-ca.pem": 0o444}),
                            ("web", {"web-tls.pem": 0o400, "pac/host.pac": 0o444,
                                     "pac/lab.pac": 0o444})):
        root = tmp_path / "container" / service
        root.mkdir(parents=True)
        (root / "files.tgz.b64").write_text(archives[f"LAB_FILES_{service.upper()}"])
        text = Path(str(script)).read_text().replace("/etc/lab", str(root))
        run = subprocess.run(["sh", "-c", text, "unpack-files", "echo", "started"],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and run.stdout == "started\n", run.stderr
        found = {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777
                 for p in root.rglob("*") if p.is_file() and p.name != "files.tgz.b64"}
        assert found == wanted, service
        for name in wanted:
            assert (root / name).read_text() == made[name] != ""


def test_files_too_large_for_one_variable_are_one_clear_error(tmp_path):
    import base64
    import random

    from lab.errors import StackError

    noise = base64.b64encode(random.Random(7).randbytes(120_000)).decode()
    config = _config(tmp_path, f'[[groups]]\nname = "big"\ndescription = "{noise}"\n')
    with pytest.raises(StackError, match=r"^the files for the dc container .* KiB packed, "
                                         r"over the 128 KiB .*: shorten lab.toml$"):
        state_files.archives(config)
