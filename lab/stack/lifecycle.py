"""The lab's lifecycle: bring it up, wait until healthy, say what broke, take it down.

`Stack` is policy only. Compose plumbing is `lab.stack.compose`, questions to the
engine `lab.stack.engine`, checks before starting `lab.stack.preflight`, rebuild decisions
`lab.stack.fingerprint`, TLS material `lab.stack.certs`, and where everything is
`lab.endpoints`. Preparing the host (installing Docker) is the CLI's and the
Makefile's job, never `up()`'s: a pytest fixture must not run apt-get.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.config import topology
from lab.config.discovery import load_config
from lab.config.model import LabConfig
from lab.config.topology import PORTS, SERVICE_NAMES
from lab.endpoints import Endpoints, build_endpoints
from lab.errors import LabNotRunning, StackError
from lab.host import local_engine, prepare
from lab.stack import build_context, preflight, state_files
from lab.stack.engine import NO_ENGINE, Engine, ServiceState, epoch
from lab.stack.fingerprint import digests
from lab.stack.lock import ProjectLock

if TYPE_CHECKING:
    # compose (testcontainers) costs 0.3 s to import: `up` needs it, a matrix, a watch or
    # `down` does not (`Stack._current` imports it)
    from lab.stack.compose import LabCompose

Say = Callable[[str], None]
HEALTH_TIMEOUT = 120.0
_POLL = 0.1           # docker has no push for health changes: poll, bounded by a deadline
_POLL_HEALING = 0.25  # ... and after a fault, where each round runs every check
_UNANNOUNCED = 1.0    # how often a starting service is checked before it says it is ready
_QUIET = 0.5          # ... and how often the states are looked at while none says anything


def _say_nothing(_message: str) -> None:
    pass


class Stack:
    """One compose project of the lab (its name comes from lab.toml / LAB_PROJECT),
    run from its staged build context (`lab.stack.build_context`).

    As a context manager it brings the lab up and, if it started it, takes it
    down again on exit: `with Stack() as stack: stack.endpoints()`.
    """

    def __init__(self, config: LabConfig | None = None, engine: Engine | None = None,
                 base_image: str | None = None):
        self.config = config or load_config()
        self.engine = engine or Engine(docker_host=self.config.docker_host)
        self.base_image = base_image
        self._started = False
        self.lock = ProjectLock(self.config.state_dir, self.config.project)
        self._derived: _Derived | None = None

    def __enter__(self) -> Stack:
        self._started = not self.is_up()
        self.up()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._started:
            self.down()

    @property
    def fingerprints(self) -> dict[str, str]:
        return self._current().fingerprints

    @property
    def compose(self) -> LabCompose:
        return self._current().compose

    def _current(self) -> _Derived:
        """Fingerprints and the compose project, from the files as they are now (made
        once; `up` remakes them after it has renewed certificates and the PAC)."""
        if self._derived is None:
            images, containers = digests(self.config)
            env = {**os.environ, **self.config.compose_env(),
                   **state_files.archives(self.config),
                   # the engine the SDK talks to, even when a docker context named it
                   **({"DOCKER_HOST": self.config.docker_host}
                      if self.config.docker_host else {}),
                   "LAB_BASE_IMAGE": self.base_image or prepare.base_image_name(),
                   **{f"LAB_FINGERPRINT_{s.upper()}": d for s, d in containers.items()},
                   **{f"LAB_IMAGE_FINGERPRINT_{s.upper()}": d for s, d in images.items()}}
            from lab.stack.compose import LabCompose

            context = build_context.stage(self.config)   # the compose file, what images copy
            # a local engine's: the plugin the docker CLI would run (its own lookup)
            plugin = local_engine.compose_plugin(env) if local_engine.socket_path(env) else None
            self._derived = _Derived(containers, images, LabCompose(
                context=str(context), compose_file_name=build_context.COMPOSE_FILE,
                project=self.config.project, env=env,
                plugin=str(plugin) if plugin else None))
        return self._derived

    # -- questions ------------------------------------------------------------

    def states(self) -> dict[str, ServiceState]:
        """What the engine says about this project's containers, by service."""
        self._require_engine()
        return self.engine.services(self.config.project)

    def _require_engine(self) -> None:
        if not self.engine.answers():
            raise LabNotRunning(NO_ENGINE)

    def ready(self, states: dict[str, ServiceState]) -> set[str]:
        """Services that are healthy, or still `starting` for docker but whose own health
        check passes when run now: docker checks every few seconds to keep an idle lab
        cheap, so readiness is not left waiting for its next check."""
        unsettled = [state for state in states.values()
                     if not state.healthy and state.unsettled]
        return {name for name, state in states.items() if state.healthy} \
            | self._probed(unsettled)

    def _probed(self, states: list[ServiceState]) -> set[str]:
        """The services among `states` whose own health check passes now, all checked
        at once (each is a `docker exec`; the proxy's authenticates three ways), or one
        after another on an engine reached over ssh."""
        if len(states) < 2 or self.engine.over_ssh:
            return {state.service for state in states if self.engine.probe(state)}
        with ThreadPoolExecutor(len(states)) as pool:
            passed = list(pool.map(self.engine.probe, states))
        return {state.service for state, ok in zip(states, passed, strict=True) if ok}

    def is_up(self) -> bool:
        try:
            states = self.states()
        except StackError:
            return False
        return set(SERVICE_NAMES) <= self.ready(states)

    def is_current(self, states: dict[str, ServiceState]) -> bool:
        """All services ready, built from what is in the tree now, none stale."""
        return all(s in states and states[s].fingerprint == self.fingerprints[s]
                   for s in SERVICE_NAMES) and set(SERVICE_NAMES) <= self.ready(states) \
            and not stale_services(states)

    def stale_images(self) -> list[str]:
        """Services whose image is missing or was built from other inputs than today's."""
        wanted = self._current().image_fingerprints
        return [service for service in SERVICE_NAMES
                if self.engine.image_fingerprint(f"{self.config.project}-{service}")
                != wanted[service]]

    def build(self, say: Say = _say_nothing) -> None:
        """Build the stale images side by side (on two cores their downloads and installs
        overlap: ~35 s instead of ~65 s fresh), a line as each is done; cached layers
        keep a rebuild after a small change quick; nothing when all are current."""
        stale = self.stale_images()
        if not stale:
            return
        started = time.monotonic()
        wanted = self._current().image_fingerprints
        built: list[str] = []

        def progress() -> None:
            import docker
            import requests

            for service in stale:
                try:
                    done = service not in built and self.engine.image_fingerprint(
                        f"{self.config.project}-{service}") == wanted[service]
                except (docker.errors.DockerException, requests.exceptions.RequestException):
                    return               # a busy engine: said at the next second, or at the end
                if done:
                    built.append(service)
                    say(f"image {service} built ({len(built)}/{len(stale)}, "
                        f"{time.monotonic() - started:.0f} s so far)")

        say(f"building images {', '.join(stale)} (side by side)" if len(stale) > 1
            else f"building image {stale[0]}")
        self.compose.build_images(stale, meanwhile=progress, timeout=1800)
        progress()
        say(f"images ready ({time.monotonic() - started:.1f} s)")
        # the images these replaced: left behind, disk use would grow with every change
        self.engine.prune_replaced_images(self.config.project)

    def endpoints(self, states: dict[str, ServiceState] | None = None,
                  checked: bool = False, healthy: bool = True) -> Endpoints:
        """Where everything is, as seen from this host; raises LabNotRunning.
        `checked`: the caller has just seen every service ready. `healthy=False`: a
        service paused or failing its health check still counts (a fault put there on
        purpose: `lab fetch` or `lab run` then show what a client meets)."""
        states = self.states() if states is None else states
        missing: list[str] = []
        if not checked:       # (a check here would run every health check once more)
            present = self.ready(states) if healthy else {
                name for name, state in states.items() if state.state in ("running", "paused")}
            missing = sorted(set(SERVICE_NAMES) - present)
        if missing:
            if not states:
                raise LabNotRunning(f"lab {self.config.project!r} is not running: "
                                    "run `make lab-up` or `lab up`")
            raise LabNotRunning(f"lab {self.config.project!r} is not healthy "
                                f"({', '.join(missing)}): see `lab status`, `lab logs`")
        return build_endpoints(self.config, {
            p.name: states[p.service].published.get(p.container_port) for p in PORTS})

    # -- lifecycle ----------------------------------------------------------

    def up(self, say: Say = _say_nothing, timeout: float = HEALTH_TIMEOUT) -> Endpoints:
        """Bring the lab up (a fast no-op if it is up and current); return its endpoints.

        One `up` or `down` per project at a time (`lab.stack.lock`): a second one waits,
        then finds the lab up. On any error, Ctrl-C or SIGTERM after containers
        were started, the project is taken down again (and that clean-up is not
        itself interruptible), so nothing is left half-running.
        """
        preflight.check_admission(self.config)
        self.lock.say = say
        with self.lock:
            # certificates and the PAC first: they are part of the fingerprints
            state_files.prepare(self.config)
            self._derived = None          # made before those files changed, perhaps
            states = self.states()
            if self.is_current(states):
                say("lab is already up")
                return self.endpoints(states, checked=True)
            preflight.check_ports_free(self.config, states)
            preflight.check_subnet(self.config, self.engine)
            self.build(say)
            try:
                say("starting containers")        # in the try: an interrupt from here on
                reasons = restarts(states)
                everything = set(reasons) >= set(SERVICE_NAMES)
                # stopped whole and unchanged since (compose recreates a changed one itself)
                as_it_was = not reasons and stopped_together(states) and all(
                    states[s].fingerprint == self.fingerprints[s] for s in SERVICE_NAMES)
                if as_it_was:
                    say("every container was stopped (the engine's restart?): "
                        "starting them again as they are")
                if reasons:
                    # e.g. a proxy whose DC was recreated under it: only a fresh start
                    # (the new DC's machine account and keytab) mends it
                    say("recreating " + ", ".join(f"{name} ({why})"
                                                  for name, why in reasons.items()))
                if reasons and not everything:
                    self.compose.run("up", "--detach", "--force-recreate", "--no-deps",
                                     *reasons, timeout=300)
                # the rest brought up; with every service to recreate, this run does it all
                self.compose.run("up", "--detach", "--remove-orphans",
                                 *(["--force-recreate"] if everything else []), timeout=300)
                try:
                    states = self.wait_healthy(say, timeout, starting=True)
                except StackError as error:
                    if not as_it_was:
                        raise
                    # killed rather than stopped (power lost, `docker kill`), a container
                    # may keep what a fresh one would not: recreated, once
                    say(f"not back as it was ({str(error).splitlines()[0]}): recreating "
                        "every service")
                    self.compose.run("up", "--detach", "--remove-orphans", "--force-recreate",
                                     timeout=300)
                    states = self.wait_healthy(say, timeout, starting=True)
            except BaseException as exc:
                with _shielded(say):
                    # the broken services' logs first: down removes them
                    diagnosis = self.diagnose() if isinstance(exc, StackError) else None
                    say("start failed: removing the lab's containers, network and volumes"
                        if diagnosis or not isinstance(exc, KeyboardInterrupt) else
                        "interrupted: removing the lab's containers, network and volumes")
                    self.down()
                if diagnosis:
                    raise StackError(diagnosis) from None
                raise
            return self.endpoints(states, checked=True)

    def wait_healthy(self, say: Say, timeout: float, *, heal: bool = False,
                     fresh: bool = False, starting: bool = False) -> dict[str, ServiceState]:
        """Block until every service is healthy; fail with its logs if one never is.
        `heal`: services just brought back from a fault may fail their checks for a
        while: keep probing them, until the deadline, instead of giving up at once.
        `fresh`: docker's last verdict may predate the fault (a check every 10-30 s):
        run every service's own check now, and trust only that.
        `starting`: the containers have just started: check each once it has said it is
        ready (`lab.stack.announcements`), and only now and then before."""
        started = time.monotonic()
        deadline = started + timeout
        reported: set[str] = set()
        asked: dict[str, float] = {}
        announcements = None
        if starting:
            from lab.stack.announcements import Announcements

            announcements = Announcements(self.engine, list(self.states().values()))
        try:
            while True:
                states = self.states()
                now = time.monotonic()
                waiting = [states[s] for s in SERVICE_NAMES
                           if s in states and s not in reported]
                # while starting, a service is asked only once what it starts from is
                # ready (the proxy's check, asked earlier, only fails, and costs the
                # starting DC its CPU) and it has said it is ready (or now and then,
                # should its line never come)
                askable = {s.service: s for s in waiting if announcements is None or (
                    topology.service(s.service).started_from_ready(reported)
                    and (announcements.said(s.service)
                         or now - asked.get(s.service, started) >= _UNANNOUNCED))}
                asked.update(dict.fromkeys(askable, now))
                if fresh:
                    ready_now = self._probed([s for s in askable.values()
                                              if s.state == "running"])
                else:
                    ready_now = self.ready(askable)
                progressed = False
                for state in waiting:
                    service = state.service
                    if service in ready_now:
                        reported.add(service)
                        progressed = True
                        say(f"  {service:<6} healthy after {time.monotonic() - started:.1f} s")
                    elif state.broken and not (heal and state.state == "running"):
                        raise StackError(self.diagnose() or f"service {service} failed")
                if reported == set(SERVICE_NAMES):
                    return states
                if time.monotonic() > deadline:
                    missing = sorted(set(SERVICE_NAMES) - reported)
                    tails = "\n".join(f"--- {s} ---\n{self.compose.log_tail(s)}"
                                      for s in missing)
                    raise StackError(f"not healthy after {timeout:.0f} s: "
                                     f"{', '.join(missing)}\n{tails}")
                if progressed:
                    continue            # what waited for those may be asked now
                if announcements is not None and not announcements.blind:
                    # woken by the next ready line; a service that said it but failed
                    # its check is asked again soon, the others' states looked at
                    # now and then (one that exits is an error at once, not at the end)
                    refused = any(announcements.said(name) for name in askable
                                  if name not in ready_now)
                    announcements.wait(_POLL if refused else _QUIET)
                else:
                    time.sleep(_POLL if starting else _POLL_HEALING)
        finally:
            if announcements is not None:
                announcements.close()

    def diagnose(self) -> str | None:
        """Which services are broken and their last log lines, or None."""
        broken = [state for state in self.states().values() if state.broken]
        if not broken:
            return None
        return "\n".join(f"service {state.service} is {state.describe()}; its last log "
                         f"lines:\n{self.compose.log_tail(state.service)}" for state in broken)

    def down(self, say: Say = _say_nothing) -> None:
        """Remove every container, network and volume of this project (images stay)."""
        if not self.engine.answers():
            say("no Docker engine answers: nothing to take down")
            return
        with self.lock:
            # nothing in a lab is worth a graceful stop: its state goes with its volumes
            self.engine.remove_project(self.config.project)

    def logs(self, service: str | None = None, follow: bool = False) -> int:
        if service is not None and service not in SERVICE_NAMES:
            raise StackError(f"no service {service!r}; the lab's services are: "
                             + ", ".join(SERVICE_NAMES))
        self._require_engine()
        return self.compose.follow_logs(service, follow)


@contextlib.contextmanager
def _shielded(say: Say) -> Iterator[None]:
    """Ctrl-C and SIGTERM only say "wait" while the clean-up runs (main thread only:
    elsewhere Python delivers no signals anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(_signum, _frame) -> None:
        say("still cleaning up; nothing will be left running")

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class _Derived:
    fingerprints: dict[str, str]            # the containers'
    image_fingerprints: dict[str, str]
    compose: LabCompose


#: How close together every container must have exited for `stopped_together`: the
#: engine stops them side by side, each within its grace period (3 s).
STOPPED_TOGETHER = 10.0


def stopped_together(states: dict[str, ServiceState]) -> bool:
    """Every service's container exited, within seconds of the others and none for lack
    of memory: the engine stopped the lab (its restart, the machine's), someone stopped
    it whole, or it was killed whole (`docker kill`, power lost: the engine then dates
    every end at its own start). Started again as they are, they come back as after
    `docker restart` (`up` recreates them should they not). A container that exited on
    its own crashed: `restarts` recreates it."""
    exited = [state for state in states.values() if state.state == "exited"]
    if {state.service for state in exited} != set(SERVICE_NAMES) \
            or any(state.oom_killed for state in exited):
        return False
    ends = [epoch(state.finished) for state in exited]
    return None not in ends and max(ends) - min(ends) <= STOPPED_TOGETHER


def restarts(states: dict[str, ServiceState]) -> dict[str, str]:
    """Services `up` must recreate, and why: broken ones (but a lab the engine stopped
    whole, `stopped_together`, starts again as it is), stale ones, and what starts from
    either (the proxy took the DC's files at its start: its machine account, the
    keytab)."""
    reasons = {} if stopped_together(states) else {
        name: "not healthy" for name, state in states.items() if state.broken}
    for name, source in stale_services(states).items():
        reasons.setdefault(name, f"its {source} is newer")
    for name in sorted(topology.dependents(set(reasons)) & set(states)):
        reasons.setdefault(name, "starts from " + ", ".join(
            sorted(topology.sources(name) & set(reasons))))
    return dict(sorted(reasons.items()))


def stale_services(states: dict[str, ServiceState]) -> dict[str, str]:
    """service -> the service it started from (topology's `started_from`) whose
    container was created after it started: its state came from a container that is
    gone. A restart keeps the container; `compose up` creates all before starting any."""
    stale = {}
    for name, state in states.items():
        for source in topology.service(name).started_from if name in SERVICE_NAMES else ():
            if source in states and states[source].created > state.started:
                stale[name] = source
    return stale
