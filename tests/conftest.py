"""Shared helpers for the unit tests."""

import shutil
from pathlib import Path

import pytest

# Fixture modules that test modules also import names from: rewritten as plugins are.
pytest.register_assert_rewrite("tests.proxy_fakes", "tests.socks_fakes")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab_root(tmp_path):
    """A copy of the packaged default lab.toml in a temp dir, to edit freely (loaded
    as a project's file: merged onto the default, which it restates whole)."""
    shutil.copy(REPO / "lab" / "share" / "lab.toml", tmp_path / "lab.toml")
    return tmp_path

# trial TestCases run under trial (`make trial`), never under pytest.
collect_ignore = ["trial"]
