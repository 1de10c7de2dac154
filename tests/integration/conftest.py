"""Integration tests run against the real lab (the fixtures attach to it or start it)."""

import os
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


#: fixtures that bring the shared lab up, heal it or change it
SHARED_LAB_FIXTURES = {"lab_stack", "lab_endpoints", "lab_faults", "lab_scenario"}


@pytest.hookimpl(trylast=True)      # after -m has deselected what it does not want
def pytest_collection_modifyitems(config, items):
    # files that start labs of their own first (a stable sort: the same order on every
    # xdist worker): `--dist loadfile` hands files out in this order
    items.sort(key=lambda item: item.get_closest_marker("private_lab") is None)
    """A test marked `exclusive` breaks the shared lab for a while (faults on its ports,
    a paused DC): beside xdist workers using that lab it would fail them at random."""
    unmarked = [item.nodeid for item in items if "lab_faults" in item.fixturenames
                and not item.get_closest_marker("exclusive")]
    if unmarked:
        raise pytest.UsageError(f"{unmarked[0]} breaks the shared lab (lab_faults) but is not "
                                "marked exclusive: add @pytest.mark.exclusive")
    # `make integration` runs these beside the exclusive phase: bringing the shared lab up
    # (lab_stack) would heal the DC an exclusive test has just paused
    leaning = [item.nodeid for item in items if item.get_closest_marker("private_lab")
               and not item.get_closest_marker("slow")
               and SHARED_LAB_FIXTURES & set(item.fixturenames)]
    both = [item.nodeid for item in items if item.get_closest_marker("private_lab")
            and item.get_closest_marker("exclusive")]
    if both:
        raise pytest.UsageError(f"{both[0]} is marked both private_lab and exclusive: "
                                "`make integration` would run it in both phases at once")
    if leaning:
        raise pytest.UsageError(f"{leaning[0]} is marked private_lab but uses the shared lab "
                                f"({', '.join(sorted(SHARED_LAB_FIXTURES))}): it runs beside "
                                "the exclusive phase; use lab_config, or drop the mark")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        exclusive = [item.nodeid for item in items if item.get_closest_marker("exclusive")]
        if exclusive:
            raise pytest.UsageError(
                f"{len(exclusive)} test(s) marked exclusive (e.g. {exclusive[0]}) would break "
                "the shared lab under the other workers: run them without -n, after the "
                "others (`make integration` does: -m 'not exclusive' with -n, then -m exclusive)")


# trial TestCases (SquidTestCase) run under trial: `make integration` runs both.
collect_ignore = ["trial"]
