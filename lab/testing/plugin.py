"""pytest plugin (entry point `pytest11`): fixtures for the lab and for tidy servers.

Loading this plugin imports no reactor: everything Twisted is imported inside
the fixtures that need it, so it coexists with pytest-twisted's reactor choice.
"""

from __future__ import annotations

import pytest

from lab.testing import knobs

# The knobs (override them in a conftest.py), lab_config and lab_stack: fixtures that
# live in lab.testing.knobs; pytest finds them by name in this module.
lab_config_file = knobs.lab_config_file
lab_project_name = knobs.lab_project_name
lab_keep = knobs.lab_keep
lab_config = knobs.lab_config
lab_stack = knobs.lab_stack
_say = knobs._say


@pytest.fixture
def lab_faults(lab_stack):
    """A `lab.faults.client.FaultClient` on the lab's fault layer (Toxiproxy's API),
    and `pause(service)` / `stop(service)` for whole services. Whatever a test breaks
    is healed at its teardown, even when it fails: the next test starts from a
    healthy lab."""
    from lab.faults.client import FaultClient
    from lab.stack import service_faults

    client = FaultClient(service_faults.api_url(lab_stack))
    client.pause = lambda service: service_faults.pause(lab_stack, service)
    client.stop = lambda service: service_faults.stop(lab_stack, service)
    yield client
    service_faults.restore(lab_stack, _say)


@pytest.fixture(scope="session")
def lab_endpoints(lab_stack):
    """The running lab's `lab.endpoints.Endpoints` (`.to_json()` is `lab status --json`)."""
    return lab_stack.endpoints()


@pytest.fixture(scope="session")
def lab_domain_controllers(lab_endpoints):
    """`lab.clients.ad.discover_domain_controllers` for the lab's domain, asked of the lab's DNS."""
    from lab.clients.ad import discover_domain_controllers

    dns = lab_endpoints.dns
    return discover_domain_controllers(lab_endpoints.dc.domain, dns.host, dns.port)


@pytest.fixture(scope="session")
def proxy_nonauth_settings(lab_endpoints) -> dict:
    """The seed's `get_nonauth_proxy_settings()`: host and port of the noauth port."""
    return lab_endpoints.proxy["noauth"].to_json()


@pytest.fixture(scope="session")
def proxy_auth_settings(lab_endpoints) -> dict:
    """The seed's `get_auth_proxy_settings()`: the basic port, with a valid user."""
    return lab_endpoints.proxy["basic"].to_json()


@pytest.fixture
def lab_mock_web_server(lab_endpoints):
    """An in-process `MockWebServer` the lab's proxy can fetch (bound on the lab
    network's host address, nowhere wider); stopped after the test."""
    import pytest_twisted

    from lab.testing.ports import host_server_ports, release_port
    from lab.web.server import MockWebServer

    http, https = host_server_ports(lab_endpoints)
    server = MockWebServer(lab_endpoints.host_interface, port=http, https_port=https)
    yield server
    pytest_twisted.blockon(server.stop())
    release_port(http)
    release_port(https)


# -- scenarios: one test per corporate situation ------------------------------------


def pytest_generate_tests(metafunc):
    """A test taking `lab_scenario` runs once per catalogue scenario (or once per
    name in `@pytest.mark.lab_scenarios(...)`), with the name as its id. The
    names are static: collection needs no lab. `known_failures={name: why}` marks
    the scenarios the client under test is known to fail: strict xfail, so the run
    says when one starts passing."""
    if "lab_scenario" not in metafunc.fixturenames:
        return
    from lab.scenarios.catalogue import NAMES, UnknownScenario, spec
    from lab.scenarios.scenario import only_under_matrix

    marker = metafunc.definition.get_closest_marker("lab_scenarios")
    # scenarios that pause a lab service (dc-down) would break the tests beside them
    names = list(marker.args) if marker else [n for n in NAMES if spec(n).pause is None]
    known_failures = dict(marker.kwargs.get("known_failures", {})) if marker else {}
    if not names:
        pytest.fail(f"{metafunc.definition.nodeid}: @pytest.mark.lab_scenarios() names no "
                    "scenario", pytrace=False)
    for name in names:
        try:
            spec(name)
        except UnknownScenario as exc:
            pytest.fail(f"{metafunc.definition.nodeid}: {exc}", pytrace=False)
        if spec(name).pause is not None:
            pytest.fail(f"{metafunc.definition.nodeid}: {only_under_matrix(name)}",
                        pytrace=False)
    for name in set(known_failures) - set(names):
        pytest.fail(f"{metafunc.definition.nodeid}: known_failures names {name!r}, which "
                    "this test does not run", pytrace=False)
    params = [pytest.param(name, id=name, marks=pytest.mark.xfail(
        reason=known_failures[name], strict=True, raises=AssertionError))
        if name in known_failures else name for name in names]
    metafunc.parametrize("lab_scenario", params, indirect=True, ids=names)


@pytest.fixture
def lab_scenario(request, lab_endpoints, lab_config, tmp_path_factory):
    """One `lab.scenarios.scenario.Scenario` of the running lab, with a URL token of its
    own: `.env`/`.environ()` for a subprocess (`.apply(monkeypatch)` for an
    in-process client), `.url`, `.https_url`, `.expect`, `.origin_saw()`, and
    `.verdict(exit_code)` (lab matrix's rules). Kerberos scenarios get a fresh
    ticket; its cache is removed after the test. lockout-budget's user is held (its
    count of wrong passwords cleared) for the test, and unlocked after it."""
    import shutil

    from lab.scenarios.matrix import new_run_id
    from lab.scenarios.scenario import build_scenarios

    name = getattr(request, "param", None)
    if name is None:
        pytest.fail("lab_scenario is parametrized by the lab plugin; request it as a "
                    "test argument", pytrace=False)
    from lab.clients.directory import directory_of
    from lab.scenarios.catalogue import spec
    from lab.scenarios.fault_gateway import fault_gateways

    workdir = tmp_path_factory.mktemp(f"lab-scenario-{name}")
    try:
        with fault_gateways(lab_endpoints, [spec(name)]) as gateways:
            scenario = build_scenarios(
                lab_endpoints, [name], run=new_run_id(), workdir=workdir,
                gateways=gateways.of_client(0),
                directory=directory_of(lab_endpoints, lab_config.admin_password))[0]
            with scenario.watching():
                yield scenario
    finally:
        shutil.rmtree(workdir, ignore_errors=True)     # a ticket cache is a credential


# -- tidy servers ----------------------------------------------------------------


def _tidy_fixture(server_class_name: str):
    def fixture():
        import pytest_twisted

        from lab.tidy import servers

        server = getattr(servers, server_class_name)()
        yield server
        pytest_twisted.blockon(server.clean_up())

    fixture.__name__ = f"tidy_{server_class_name}"
    fixture.__doc__ = (f"A `lab.tidy.servers.{server_class_name}`, cleaned up after the test "
                       "(needs pytest-twisted).")
    return pytest.fixture(fixture)


tidy_tcp_server = _tidy_fixture("TidyTCPServer")
tidy_unix_server = _tidy_fixture("TidyUnixServer")
tidy_tls_server = _tidy_fixture("TidyTLSServer")


# -- the reactor-cleanliness check -------------------------------------------------


class DirtyReactorError(Exception):
    """A test left delayed calls or selectables in the reactor (trial's check, for pytest)."""


def _config_has_pytest_twisted(config) -> bool:
    return config.pluginmanager.hasplugin("twisted")


#: What the reactor held before each test (see pytest_runtest_setup).
_BASELINE = pytest.StashKey[tuple]()


def _reactor_state(reactor) -> tuple[set, set]:
    """(active delayed calls, selectables) the reactor holds beyond its own."""
    calls = {call for call in reactor.getDelayedCalls() if call.active()}
    internal = getattr(reactor, "_internalReaders", set())
    selectables = {s for s in list(reactor.getReaders()) + list(reactor.getWriters())
                   if s not in internal}
    return calls, selectables


def _installed_reactor():
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        return None
    from twisted.internet import reactor

    return reactor


def _spin_once() -> None:
    """Let the reactor run one iteration (closing connections finish there)."""
    import pytest_twisted
    from twisted.internet import reactor, task

    pytest_twisted.blockon(task.deferLater(reactor, 0, lambda: None))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "dirty_reactor_ok: skip lab's reactor-cleanliness check for this test")
    config.addinivalue_line(
        "markers", "lab_scenarios(*names, known_failures={name: why}): run a lab_scenario "
        "test only for these scenarios; those in known_failures must fail (strict xfail)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Remember what the reactor held before the test, so only its own leftovers count
    (and a leftover of an opted-out test is never blamed on the next one)."""
    reactor = _installed_reactor()
    item.stash[_BASELINE] = _reactor_state(reactor) if reactor is not None else (set(), set())
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After fixtures are torn down, fail a test that left the reactor dirty:
    trial's dirty-reactor error, for pytest. Runs only when a reactor was imported
    (this plugin imports none)."""
    result = yield
    reactor = _installed_reactor()
    if reactor is None or item.get_closest_marker("dirty_reactor_ok"):
        return result
    base_calls, base_selectables = item.stash.get(_BASELINE, (set(), set()))

    def leftovers():
        calls, selectables = _reactor_state(reactor)
        return calls - base_calls, selectables - base_selectables

    calls, selectables = leftovers()
    if (calls or selectables) and _config_has_pytest_twisted(item.config):
        _spin_once()
        calls, selectables = leftovers()
    if calls or selectables:
        for call in calls:
            call.cancel()
        for selectable in selectables:
            reactor.removeReader(selectable)
            reactor.removeWriter(selectable)
        lines = ["Reactor was unclean after the test (lab's check; "
                 "mark the test dirty_reactor_ok to opt out)."]
        if calls:
            lines += ["DelayedCalls: (set twisted.internet.base.DelayedCall.debug = True "
                      "to see where they were created)"] + sorted(f"  {c!r}" for c in calls)
        if selectables:
            lines += ["Selectables:"] + sorted(f"  {s!r}" for s in selectables)
        raise DirtyReactorError("\n".join(lines))
    return result


def pytest_collection_modifyitems(session, config, items):
    """trial TestCases and pytest-twisted fight over the reactor in one process
    (pytest-twisted #93, #147): refuse the mix with a message saying what to do."""
    if not _config_has_pytest_twisted(config):
        return
    try:
        from twisted.trial.unittest import TestCase as TrialTestCase
    except ImportError:
        return
    trial_items = [item.nodeid for item in items
                   if isinstance(getattr(item, "cls", None), type)
                   and issubclass(item.cls, TrialTestCase)]
    if trial_items:
        raise pytest.UsageError(
            "trial TestCases cannot run under pytest with pytest-twisted active "
            f"(e.g. {trial_items[0]}): run them with `python -m twisted.trial`, "
            "and the pytest-twisted tests with pytest, in separate processes")
