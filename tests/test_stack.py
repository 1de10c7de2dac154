"""Stack policy that needs no engine: readiness, and what `up` does when current."""

from lab.config.discovery import load_config
from lab.config.topology import PORTS
from lab.stack import state_files
from lab.stack.engine import ServiceState, instant
from lab.stack.lifecycle import Stack, restarts, stale_services


class FakeEngine:
    def __init__(self, states, probes):
        self._states, self.probes, self.probed = states, probes, []

    def answers(self):
        return True

    def services(self, project):
        return self._states

    def probe(self, state):
        self.probed.append(state.service)
        return self.probes.get(state.service, False)


def _state(service, health="healthy", fingerprint="f"):
    return ServiceState(service, "running", health, fingerprint, {}, health_test=("CMD", "x"))


def test_starting_services_count_once_their_own_check_passes():
    states = {"dns": _state("dns"), "dc": _state("dc", "starting"),
              "proxy": _state("proxy", "starting"), "web": _state("web")}
    engine = FakeEngine(states, {"dc": True, "proxy": False})
    stack = Stack(load_config(environ={}), engine=engine)
    assert stack.ready(states) == {"dns", "dc", "web"}
    assert sorted(engine.probed) == ["dc", "proxy"]        # healthy ones are not probed


def test_up_is_a_no_op_when_current(tmp_path):
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path)})
    state_files.prepare(config)      # what the running lab was made with
    stack = Stack(config, engine=None)
    published = {name: {} for name in stack.fingerprints}
    for port in PORTS:
        published[port.service][port.container_port] = config.ports[port.name]
    states = {name: ServiceState(name, "running", "healthy", fp, published[name])
              for name, fp in stack.fingerprints.items()}
    stack.engine = FakeEngine(states, {})
    said = []
    endpoints = stack.up(say=said.append)
    assert said == ["lab is already up"] and endpoints.proxy["basic"].port == 3129
    assert stack.engine.probed == []


def _made(service, created, started):
    return ServiceState(service, "running", "healthy", "f", {}, created=instant(created),
                        started=instant(started))


def test_a_proxy_started_before_its_dc_was_created_is_stale_a_restarted_one_is_not():
    # one `compose up` creates every container, then starts them; a recreated DC is a
    # new container, created after the proxy joined the domain it no longer holds
    states = {"dns": _made("dns", "2026-12-06T10:00:00.1Z", "2026-12-06T10:00:01.12Z"),
              "dc": _made("dc", "2026-12-06T10:00:00.5Z", "2026-12-06T10:00:01.1Z"),
              "proxy": _made("proxy", "2026-12-06T10:00:00.2Z", "2026-12-06T10:00:01.3Z")}
    assert stale_services(states) == {}
    states["dc"] = _made("dc", "2026-12-06T11:00:00Z", "2026-12-06T11:00:00.2Z")
    assert stale_services(states) == {"proxy": "dc"}
    states["proxy"] = _made("proxy", "2026-12-06T10:00:00.2Z", "2026-12-06T11:00:05Z")
    assert stale_services(states) == {}                   # restarted since: joined again
    states["dns"] = _made("dns", "2026-12-06T12:00:00Z", "2026-12-06T12:00:00.5Z")
    assert stale_services(states) == {"dc": "dns"}


def test_docker_times_compare_as_text_once_made_instants():
    assert instant("2026-12-06T10:00:07.5Z") > instant("2026-12-06T10:00:07.12Z")
    assert instant("2026-12-06T10:00:07Z") < instant("2026-12-06T10:00:07.000000001Z")
    assert instant("") == ""


def test_a_lab_with_a_stale_proxy_is_not_current_though_all_say_healthy(tmp_path):
    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path)})
    state_files.prepare(config)
    stack = Stack(config, engine=None)
    states = {name: ServiceState(name, "running", "healthy", fp, {},
                                 created=instant("2026-12-06T10:00:00Z"),
                                 started=instant("2026-12-06T10:00:01Z"))
              for name, fp in stack.fingerprints.items()}
    stack.engine = FakeEngine(states, {})
    assert stack.is_current(states)
    states["dc"] = ServiceState("dc", "running", "healthy", stack.fingerprints["dc"], {},
                                created=instant("2026-12-06T11:00:00Z"),
                                started=instant("2026-12-06T11:00:01Z"))
    assert not stack.is_current(states)


def test_up_recreates_what_starts_from_a_service_it_recreates():
    """A broken DC is recreated, and with it the proxy joined to it; a DC recreated
    under a healthy proxy means the proxy again, and bind new under both means both."""
    states = {"dns": _made("dns", "2026-12-06T10:00:00.1Z", "2026-12-06T10:00:01Z"),
              "dc": _made("dc", "2026-12-06T10:00:00.2Z", "2026-12-06T10:00:01Z"),
              "proxy": _made("proxy", "2026-12-06T10:00:00.3Z", "2026-12-06T10:00:01Z"),
              "web": _made("web", "2026-12-06T10:00:00.4Z", "2026-12-06T10:00:01Z")}
    assert restarts(states) == {}
    states["dc"] = ServiceState("dc", "running", "unhealthy", "f", {},
                                created=states["dc"].created, started=states["dc"].started)
    assert restarts(states) == {"dc": "not healthy", "proxy": "starts from dc"}
    states["dc"] = _made("dc", "2026-12-06T10:00:00.2Z", "2026-12-06T10:00:01Z")
    states["dns"] = _made("dns", "2026-12-06T11:00:00Z", "2026-12-06T11:00:01Z")
    assert restarts(states) == {"dc": "its dns is newer", "proxy": "starts from dc"}


def test_a_service_is_asked_only_once_what_it_starts_from_is_ready():
    # the proxy joins the DC's domain: while the DC is not ready, checking the proxy
    # only fails, and takes the starting DC's CPU
    states = {name: _state(name, "starting") for name in ("dns", "dc", "proxy", "web", "faults")}
    engine = FakeEngine(states, {"dns": True, "web": True, "faults": True, "dc": True,
                                 "proxy": True})
    stack = Stack(load_config(environ={}), engine=engine)
    said = []
    stack.wait_healthy(said.append, timeout=10)
    order = [line.split()[0] for line in said]
    assert order.index("dc") > order.index("dns") and order.index("proxy") > order.index("dc")
    # each service was checked once its sources were ready, never before
    assert engine.probed.count("proxy") == 1 and engine.probed.count("dc") == 1


def test_every_service_says_when_it_is_ready():
    import re

    from lab.config.topology import SERVICES

    for service in SERVICES:
        assert service.ready_line, service.name
        re.compile(service.ready_line)
    lines = {"dns": "running", "dc": "dc: ready",
             "proxy": "2026/12/06 19:51:26| Accepting HTTP Socket connections at conn20 "
                      "local=0.0.0.0:3128 remote=[::] FD 29 flags=9",
             "faults": '{"api": "0.0.0.0:8474", "proxies": {}}',
             "web": "2026-12-06T19:51:24+0000 [lab.mockweb#info] serving http://0.0.0.0:80/"}
    for service in SERVICES:
        assert re.search(service.ready_line, lines[service.name]), service.name
        assert not re.search(service.ready_line, "starting"), service.name
