"""Integration tests run against the real lab (the fixtures attach to it or start it)."""

import shutil

import pytest


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
