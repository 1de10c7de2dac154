"""The `lab_scenario` fixture's parametrization: collection alone, so no lab is needed."""

import os
import subprocess
import sys
import textwrap

import pytest

from lab.scenarios.catalogue import NAMES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(60)


def collect(tmp_path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_client.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider",
                           str(tmp_path / "test_client.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=50)


def test_one_test_per_scenario_with_readable_ids(tmp_path):
    proc = collect(tmp_path, """
        import pytest

        def test_all(lab_scenario):
            pass

        @pytest.mark.lab_scenarios("basic", "ntlm")
        def test_some(lab_scenario):
            pass
    """)
    ids = [line.split("::")[1] for line in proc.stdout.splitlines() if "::" in line]
    # dc-down pauses the shared DC: never a test of its own beside the others
    assert ids == [f"test_all[{n}]" for n in NAMES if n != "dc-down"] + [
        "test_some[basic]", "test_some[ntlm]"]


def test_naming_a_scenario_that_pauses_the_dc_is_a_collection_error_saying_why(tmp_path):
    proc = collect(tmp_path, """
        import pytest

        @pytest.mark.lab_scenarios("dc-down")
        def test_some(lab_scenario):
            pass
    """)
    assert proc.returncode != 0
    assert "only `lab matrix` runs it" in proc.stdout + proc.stderr


def test_an_unknown_scenario_in_the_marker_is_a_collection_error_naming_it(tmp_path):
    proc = collect(tmp_path, """
        import pytest

        @pytest.mark.lab_scenarios("basic", "nope")
        def test_some(lab_scenario):
            pass
    """)
    assert proc.returncode != 0
    assert "no scenario 'nope'" in proc.stdout + proc.stderr
