"""Shared helpers for the unit tests."""

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab_root(tmp_path):
    """A copy of the repo's lab.toml in a temp dir, to edit freely."""
    shutil.copy(REPO / "lab.toml", tmp_path / "lab.toml")
    return tmp_path

# trial TestCases run under trial (`make trial`), never under pytest.
collect_ignore = ["trial"]
