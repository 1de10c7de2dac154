"""Stack policy that needs no engine: readiness, and what `up` does when current."""

from lab.config.discovery import load_config
from lab.config.topology import PORTS
from lab.stack import state_files
from lab.stack.engine import ServiceState
from lab.stack.lifecycle import Stack


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
