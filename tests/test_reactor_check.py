"""The plugin's reactor-cleanliness check: a dirty test fails, naming what it left."""

import textwrap

pytest_plugins = ["pytester"]


def test_left_delayed_call_and_port_fail_the_test(pytester):
    pytester.makepyfile(textwrap.dedent("""
        import pytest
        from twisted.internet import reactor, protocol

        def test_leaves_a_delayed_call():
            reactor.callLater(30, lambda: None)

        def test_leaves_a_listening_port():
            reactor.listenTCP(0, protocol.ServerFactory(), interface="127.0.0.1")

        @pytest.mark.dirty_reactor_ok
        def test_opted_out():
            reactor.callLater(30, lambda: None)

        def test_clean_after_opt_out():
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*DirtyReactorError*", "*DelayedCalls*"])
    result.stdout.fnmatch_lines(["*Selectables:*", "*Port*"])


def test_plugin_imports_no_reactor(pytester):
    pytester.makepyfile(textwrap.dedent("""
        import sys

        def test_no_reactor():
            assert "twisted.internet.reactor" not in sys.modules
    """))
    result = pytester.runpytest_subprocess("-p", "no:twisted",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_trial_testcase_under_pytest_twisted_is_refused(pytester):
    pytester.makepyfile(textwrap.dedent("""
        from twisted.trial import unittest

        class T(unittest.TestCase):
            def test_x(self):
                pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*python -m twisted.trial*"])
