"""The plugin's knobs: fixtures a project overrides in its conftest.py, or environment
variables (no lab needed: these stop short of lab_stack)."""

import textwrap

pytest_plugins = ["pytester"]

SHOW = """
    def test_show(lab_config_file, lab_project_name, lab_keep, lab_config):
        print("FILE", lab_config_file)
        print("PROJECT", lab_config.project, lab_project_name)
        print("KEEP", lab_keep)
        print("USERS", ",".join(u.name for u in lab_config.users))
"""


def _run(pytester, monkeypatch, env=None):
    for name in ("LAB_CONFIG", "LAB_ROOT", "LAB_PROJECT", "LAB_KEEP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_show=textwrap.dedent(SHOW))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-q")
    result.assert_outcomes(passed=1)
    return "\n".join(result.outlines)


def test_defaults_find_the_projects_lab_toml_from_the_rootdir(pytester, monkeypatch):
    pytester.makefile(".toml", lab='[[users]]\nname = "dave"\npassword = "Harbour-Light-55"\n'
                      'in = ["domain"]\n')
    pytester.makeini("[pytest]\n")
    out = _run(pytester, monkeypatch)
    assert f"FILE {pytester.path / 'lab.toml'}" in out
    assert "PROJECT lab-" in out and "KEEP False" in out and "dave" in out


def test_environment_variables_set_the_knobs(pytester, monkeypatch, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text('[lab]\nproject = "from-env-file"\n')
    out = _run(pytester, monkeypatch, {"LAB_CONFIG": str(other), "LAB_PROJECT": "pinned",
                                       "LAB_KEEP": "1"})
    assert f"FILE {other}" in out and "PROJECT pinned pinned" in out and "KEEP True" in out


def test_a_conftest_overrides_the_knobs(pytester, monkeypatch, tmp_path):
    other = tmp_path / "ci.toml"
    other.write_text('[lab]\nproject = "ci-lab"\n')
    pytester.makeconftest(textwrap.dedent(f"""
        import pathlib
        import pytest

        @pytest.fixture(scope="session")
        def lab_config_file():
            return pathlib.Path({str(other)!r})

        @pytest.fixture(scope="session")
        def lab_keep():
            return True
    """))
    out = _run(pytester, monkeypatch, {"LAB_KEEP": "0"})
    assert f"FILE {other}" in out and "PROJECT ci-lab None" in out and "KEEP True" in out


def test_known_failures_are_strict_xfails_of_the_names_the_test_runs(pytester):
    pytester.makeconftest(textwrap.dedent("""
        def pytest_collection_modifyitems(items):
            for item in items:
                mark = item.get_closest_marker("xfail")
                print("ITEM", item.name, mark and sorted(mark.kwargs.items()))
    """))
    pytester.makepyfile(test_known=textwrap.dedent("""
        import pytest

        @pytest.mark.lab_scenarios("basic", "corp-ntlm", known_failures={"corp-ntlm": "why"})
        def test_client(lab_scenario):
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q",
                                           "-s")
    out = "\n".join(result.outlines)
    assert "ITEM test_client[basic] None" in out
    assert ("ITEM test_client[corp-ntlm] [('raises', <class 'AssertionError'>), "
            "('reason', 'why'), ('strict', True)]") in out
    pytester.makepyfile(test_known=textwrap.dedent("""
        import pytest

        @pytest.mark.lab_scenarios("basic", known_failures={"ntlm": "why"})
        def test_client(lab_scenario):
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert "known_failures names 'ntlm', which this test does not run" in result.stdout.str()
    assert result.ret != 0
