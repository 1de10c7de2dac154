"""Stack policy that needs no engine: readiness, and what `up` does when current."""

import dataclasses

import pytest

from lab.config.discovery import load_config
from lab.config.topology import PORTS
from lab.stack import state_files
from lab.stack.engine import ServiceState, instant
from lab.stack.lifecycle import Stack, restarts, stale_services


class FakeEngine:
    over_ssh = False

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
    # new container, created after the proxy took the DC's files at its start
    states = {"dns": _made("dns", "2026-12-06T10:00:00.1Z", "2026-12-06T10:00:01.12Z"),
              "dc": _made("dc", "2026-12-06T10:00:00.5Z", "2026-12-06T10:00:01.1Z"),
              "proxy": _made("proxy", "2026-12-06T10:00:00.2Z", "2026-12-06T10:00:01.3Z")}
    assert stale_services(states) == {}
    states["dc"] = _made("dc", "2026-12-06T11:00:00Z", "2026-12-06T11:00:00.2Z")
    assert stale_services(states) == {"proxy": "dc"}
    states["proxy"] = _made("proxy", "2026-12-06T10:00:00.2Z", "2026-12-06T11:00:05Z")
    assert stale_services(states) == {}                   # restarted since: took them again
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
    """A broken DC is recreated, and with it the proxy that starts from it; a DC recreated
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


class RecordedCompose:
    def __init__(self):
        self.runs = []

    def run(self, *args, timeout=None):
        self.runs.append(args)
        return ""


def _up_with(monkeypatch, tmp_path, states, waits=None, said=None, current=True):
    """`Stack.up()` over `states`, with compose recorded and the engine's other questions
    (ports, subnet, images, health) answered as a lab that starts would: compose's runs.
    `waits`: what each wait for health does in turn (return, or raise); `current`: the
    containers made from today's settings (their fingerprints)."""
    from lab.stack import lifecycle, preflight

    config = load_config(environ={"LAB_STATE_HOME": str(tmp_path)})
    state_files.prepare(config)      # what the stopped lab was made with
    stack = Stack(config, engine=FakeEngine(states, {}))
    if current:
        states = {name: dataclasses.replace(state, fingerprint=stack.fingerprints[name])
                  for name, state in states.items()}
    stack.engine = FakeEngine(states, {})
    compose = RecordedCompose()
    waits = iter(waits or [lambda: states])
    monkeypatch.setattr(lifecycle.Stack, "compose", property(lambda self: compose))
    monkeypatch.setattr(lifecycle.Stack, "build", lambda self, say: None)
    monkeypatch.setattr(lifecycle.Stack, "wait_healthy", lambda self, *a, **k: next(waits)())
    monkeypatch.setattr(lifecycle.Stack, "endpoints", lambda self, *a, **k: None)
    monkeypatch.setattr(lifecycle.Stack, "down", lambda self, say=None: None)
    monkeypatch.setattr(lifecycle.Stack, "diagnose", lambda self: None)
    monkeypatch.setattr(preflight, "check_ports_free", lambda config, states: None)
    monkeypatch.setattr(preflight, "check_subnet", lambda config, engine: None)
    stack.up(say=(said if said is not None else []).append)
    return compose.runs


def _exited(service, finished="2026-12-06T11:00:00Z", code=0, oom=False):
    return ServiceState(service, "exited", "", "f", {}, exit_code=code,
                        created=instant("2026-12-06T10:00:00Z"),
                        started=instant("2026-12-06T10:00:01Z"),
                        finished=instant(finished), oom_killed=oom)


def test_a_lab_stopped_whole_starts_again_as_it_is_a_crashed_service_is_recreated():
    """The engine's restart stops every container within seconds (samba exits 127 on
    its TERM, squid 0): started again in place, as `docker restart` does. One that
    exited alone, all that exited minutes apart, or one the kernel killed for memory:
    recreated, with what starts from it."""
    from lab.config.topology import SERVICE_NAMES
    from lab.stack.lifecycle import stopped_together

    ends = {"dns": "2026-12-06T11:00:00.1Z", "dc": "2026-12-06T11:00:00.2Z",
            "faults": "2026-12-06T11:00:00.3Z", "web": "2026-12-06T11:00:00.3Z",
            "proxy": "2026-12-06T11:00:03.1Z"}
    states = {name: _exited(name, ends[name], 127 if name == "dc" else 0)
              for name in SERVICE_NAMES}
    assert stopped_together(states) and restarts(states) == {}
    running = {name: _made(name, "2026-12-06T10:00:00Z", "2026-12-06T10:00:01Z")
               for name in SERVICE_NAMES}
    alone = {**running, "dc": _exited("dc", code=127)}
    assert not stopped_together(alone)
    assert restarts(alone) == {"dc": "not healthy", "proxy": "starts from dc"}
    apart = {**states, "web": _exited("web", "2026-12-06T11:05:00Z")}
    assert not stopped_together(apart) and set(restarts(apart)) == set(SERVICE_NAMES)
    starved = {**states, "dc": _exited("dc", ends["dc"], 137, oom=True)}
    assert not stopped_together(starved) and set(restarts(starved)) == set(SERVICE_NAMES)
    # the window: 9.9 s apart is together, 10.1 s is not
    assert stopped_together({**states, "web": _exited("web", "2026-12-06T11:00:10.0Z")})
    assert not stopped_together({**states, "web": _exited("web", "2026-12-06T11:00:10.2Z")})


def test_a_lab_stopped_whole_is_started_by_compose_not_recreated(monkeypatch, tmp_path):
    """Started as it is; should it not come back (a container killed, not stopped, may
    keep what a fresh one would not), recreated once; a second failure is the error."""
    from lab.config.topology import SERVICE_NAMES
    from lab.errors import StackError

    states = {name: _exited(name) for name in SERVICE_NAMES}
    said = []
    assert _up_with(monkeypatch, tmp_path, states, said=said) == [
        ("up", "--detach", "--remove-orphans")]
    assert "every container was stopped (the engine's restart?): starting them again " \
           "as they are" in said

    def fails():
        raise StackError("service proxy is exited (exit code 1); its last log lines: ...")

    said.clear()
    assert _up_with(monkeypatch, tmp_path, states, [fails, lambda: states], said) == [
        ("up", "--detach", "--remove-orphans"),
        ("up", "--detach", "--remove-orphans", "--force-recreate")]
    assert said[-1] == ("not back as it was (service proxy is exited (exit code 1); its last "
                        "log lines: ...): recreating every service")
    with pytest.raises(StackError):
        _up_with(monkeypatch, tmp_path, states, [fails, fails])


def test_a_lab_stopped_whole_whose_settings_changed_is_not_said_to_start_as_it_was(
        monkeypatch, tmp_path):
    """compose recreates a container whose settings changed by itself: not "as they are"."""
    from lab.config.topology import SERVICE_NAMES

    states = {name: _exited(name) for name in SERVICE_NAMES}
    said = []
    _up_with(monkeypatch, tmp_path, states, said=said, current=False)
    assert "starting containers" in said and not any("as they are" in line for line in said)


def test_every_service_broken_is_recreated_in_one_compose_run(monkeypatch, tmp_path):
    """Every service to recreate: one run recreates all and removes orphans; when only
    some are, those first (alone), then the rest brought up."""
    from lab.config.topology import SERVICE_NAMES

    states = {name: ServiceState(name, "running", "unhealthy", "f", {},
                                 created=instant("2026-12-06T10:00:00Z"),
                                 started=instant("2026-12-06T10:00:01Z"))
              for name in SERVICE_NAMES}
    assert _up_with(monkeypatch, tmp_path, states) == [
        ("up", "--detach", "--remove-orphans", "--force-recreate")]
    states = {name: _made(name, "2026-12-06T10:00:00Z", "2026-12-06T10:00:01Z")
              for name in SERVICE_NAMES}
    states["web"] = _exited("web")
    assert _up_with(monkeypatch, tmp_path, states) == [
        ("up", "--detach", "--force-recreate", "--no-deps", "web"),
        ("up", "--detach", "--remove-orphans")]


class SlowDC(FakeEngine):
    """The DC's own check fails its first rounds; every other passes at once."""

    def __init__(self, states, rounds):
        super().__init__(states, {})
        self.dc_fails = rounds

    def probe(self, state):
        self.probed.append(state.service)
        if state.service == "dc" and self.dc_fails:
            self.dc_fails -= 1
            return False
        return True


class Said:
    """Announcements stand-in: who has said it is ready (and nobody says more)."""

    blind = False

    def __init__(self, said):
        self._said = set(said)

    def said(self, service):
        return service in self._said

    def wait(self, timeout):
        import time

        time.sleep(timeout)

    def close(self):
        pass


def _starting(monkeypatch, said=("dns", "dc", "proxy", "web", "faults"), heard=None):
    import lab.stack.announcements as announcements

    heard = heard or Said(said)
    monkeypatch.setattr(announcements, "Announcements", lambda engine, states: heard)
    return {name: _state(name, "starting") for name in ("dns", "dc", "proxy", "web", "faults")}


class Waits(Said):
    """... and how long `wait_healthy` waited for a line each time."""

    def __init__(self, said):
        super().__init__(said)
        self.waits = []

    def wait(self, timeout):
        self.waits.append(timeout)
        super().wait(timeout)


def test_while_starting_a_refused_service_is_asked_again_soon_silence_waits_longer(
        monkeypatch):
    import lab.stack.lifecycle as lifecycle

    # the DC said it is ready, and its check fails once: asked again after _POLL; a
    # round that reports a service goes on at once (what waited for it may be asked)
    heard = Waits(("dns", "dc", "proxy", "web", "faults"))
    engine = SlowDC(_starting(monkeypatch, heard=heard), rounds=1)
    Stack(load_config(environ={}), engine=engine).wait_healthy(
        lambda _m: None, timeout=10, starting=True)
    assert heard.waits == [lifecycle._POLL]
    # the DC has said nothing: the rounds wait _QUIET for a line until it is asked anyway
    monkeypatch.setattr(lifecycle, "_UNANNOUNCED", 0.3)
    monkeypatch.setattr(lifecycle, "_QUIET", 0.05)
    heard = Waits(("dns", "proxy", "web", "faults"))
    engine = SlowDC(_starting(monkeypatch, heard=heard), rounds=0)
    Stack(load_config(environ={}), engine=engine).wait_healthy(
        lambda _m: None, timeout=10, starting=True)
    assert heard.waits and set(heard.waits) == {0.05}


def test_while_starting_a_service_is_asked_once_what_it_starts_from_is_ready(monkeypatch):
    # the proxy starts from the DC (its domain, winbind): while the DC is not ready,
    # checking the proxy only fails, and takes the starting DC's CPU
    engine = SlowDC(_starting(monkeypatch), rounds=3)
    stack = Stack(load_config(environ={}), engine=engine)
    said = []
    stack.wait_healthy(said.append, timeout=10, starting=True)
    assert [line.split()[0] for line in said][-2:] == ["dc", "proxy"]
    dc_passed = len(engine.probed) - 1 - engine.probed[::-1].index("dc")
    assert engine.probed.count("dc") == 4 and "proxy" not in engine.probed[:dc_passed]
    assert engine.probed.count("proxy") == 1


def test_while_starting_a_service_that_has_not_said_it_is_ready_is_asked_seldom(monkeypatch):
    import lab.stack.lifecycle as lifecycle

    monkeypatch.setattr(lifecycle, "_UNANNOUNCED", 0.35)   # checked every 0.35 s, not 0.1
    monkeypatch.setattr(lifecycle, "_QUIET", 0.1)
    engine = SlowDC(_starting(monkeypatch, said=("dns", "proxy", "web", "faults")), rounds=2)
    stack = Stack(load_config(environ={}), engine=engine)
    stack.wait_healthy(lambda _m: None, timeout=10, starting=True)
    # two failed checks and the passing one, over ~1 s of 0.1 s rounds: not one per round
    assert engine.probed.count("dc") == 3


def test_after_a_fault_every_service_is_asked_each_round(monkeypatch):
    # healing (`lab fault clear`, the matrix's pause): nothing waits on the order
    engine = SlowDC({name: _state(name, "starting")
                     for name in ("dns", "dc", "proxy", "web", "faults")}, rounds=1)
    stack = Stack(load_config(environ={}), engine=engine)
    stack.wait_healthy(lambda _m: None, timeout=10, heal=True)
    assert engine.probed[:5].count("proxy") == 1       # in the first round, beside the DC


def test_every_service_says_when_it_is_ready():
    import re

    from lab.config.topology import SERVICES

    for service in SERVICES:
        assert service.ready_line, service.name
        re.compile(service.ready_line)
    lines = {"dns": "running", "dc": "dc: ready",
             "proxy": "proxy: ready",
             "faults": '{"api": "0.0.0.0:8474", "proxies": {}}',
             "web": "2026-12-06T19:51:24+0000 [lab.mockweb#info] serving http://0.0.0.0:80/"}
    for service in SERVICES:
        assert re.search(service.ready_line, lines[service.name]), service.name
        assert not re.search(service.ready_line, "starting"), service.name


class Stream:
    """An engine's followed output: chunks as they come, then blocking until closed."""

    def __init__(self, chunks):
        import queue

        self.chunks, self.closed = queue.Queue(), False
        for chunk in chunks:
            self.chunks.put(chunk)

    def __iter__(self):
        while True:
            chunk = self.chunks.get(timeout=10)
            if chunk is None:
                return
            yield chunk

    def close(self):
        self.closed = True
        self.chunks.put(None)


class Outputs:
    over_ssh = False

    def __init__(self, streams):
        self.streams = streams

    def output_stream(self, state):
        return self.streams[state.service]


def test_announcements_hear_a_ready_line_split_across_chunks_and_close_every_follower():
    import time

    from lab.stack.announcements import Announcements

    streams = {"dns": Stream([b"zone loaded\nrun", b"ning\n"]),
               "dc": Stream([b"samba version 4.17 started.\n"])}
    heard = Announcements(Outputs(streams), [_state("dns", "starting"), _state("dc", "starting")])
    started = time.monotonic()
    heard.wait(10)                           # woken by bind's line, not by the bound
    assert time.monotonic() - started < 5
    assert heard.said("dns") and not heard.said("dc")
    assert streams["dns"].closed             # its line found, its follower gone
    heard.close()
    assert streams["dc"].closed and not heard.said("dc")


def test_announcements_over_ssh_follow_nothing_and_leave_every_check_to_each_round():
    from lab.stack.announcements import Announcements

    engine = Outputs({})
    engine.over_ssh = True
    heard = Announcements(engine, [_state("dns", "starting")])
    assert heard.said("dns") and heard.said("dc")
    heard.close()


def test_over_ssh_the_checks_run_one_after_another():
    import threading

    class OverSSH(FakeEngine):
        over_ssh = True

        def __init__(self, states):
            super().__init__(states, {})
            self.threads = set()

        def probe(self, state):
            self.threads.add(threading.current_thread().name)
            return True

    engine = OverSSH(_starting_states())
    Stack(load_config(environ={}), engine=engine).ready(engine._states)
    assert engine.threads == {threading.main_thread().name}   # sshd caps a connection's channels


def _starting_states():
    return {name: _state(name, "starting") for name in ("dns", "dc", "proxy", "web", "faults")}
