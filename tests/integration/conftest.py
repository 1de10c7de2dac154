"""Integration tests run against the real lab (the fixtures attach to it or start it)."""

import os
import shutil

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def copy_repo(target):
    """What a lab needs from the repository, copied to `target` (use with LAB_ROOT)."""
    for name in ("lab.toml", "docker-compose.yml", ".dockerignore"):
        shutil.copy(os.path.join(REPO, name), target / name)
    for name in ("images", "lab"):
        shutil.copytree(os.path.join(REPO, name), target / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="session")
def tool():
    """Path of a client program; a missing one is an error, never a skip."""

    def find(name: str) -> str:
        path = shutil.which(name)
        assert path, f"{name} is not installed: run `make host` (python -m lab.host)"
        return path

    return find


# trial TestCases (SquidTestCase) run under trial: `make integration` runs both.
collect_ignore = ["trial"]
