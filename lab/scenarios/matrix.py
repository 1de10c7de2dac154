"""`lab matrix`: each client's command, run once per scenario, judged with the origin's
evidence.

After each run the origin is asked what reached it under the scenario's token
(`/matrix/<run>/<scenario>`), and `Scenario.verdict` judges the run by it
(`lab.scenarios.scenario.judge` holds the rules).

Scenarios share almost nothing (own token, own ticket cache), so they run at
once, except those that send squid the same user different passwords
(`lab.scenarios.processes.CredentialGate`: at worst a run then waits one timeout for its
turn). Each client runs in its own session and is killed with its whole
process group when it overruns `timeout`, and after it exits; Ctrl-C kills
every client and starts no other (`lab.scenarios.processes`).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.clients.directory import Directory
from lab.endpoints import Endpoints
from lab.errors import LabError
from lab.masking import Masker
from lab.scenarios import evidence
from lab.scenarios.catalogue import needs_dc, spec, split_exclusive
from lab.scenarios.clientenv import closed_port
from lab.scenarios.evidence import Witnesses
from lab.scenarios.evidence.log import ReadEarly
from lab.scenarios.evidence.windows import SLACK
from lab.scenarios.fault_gateway import FaultServer, Gateways, fault_gateways
from lab.scenarios.processes import (
    Completed,
    CredentialGate,
    ProcessGroups,
    Stopped,
    run_bounded,
)
from lab.scenarios.scenario import Scenario, Verdict, build_scenarios, judge

DEFAULT_TIMEOUT = 20.0
PLACEHOLDERS = ("{url}", "{https_url}", "{scenario}")


@dataclass(frozen=True)
class Outcome:
    """One scenario's row in every report."""

    scenario: Scenario
    argv: tuple[str, ...]
    run: Completed
    origin: tuple[dict[str, Any], ...]
    verdict: Verdict
    #: what squid saw of the run (lab.scenarios.evidence.squid); None when the matrix was
    #: not given squid's log
    proxy: tuple[dict[str, Any], ...] | None = None
    #: what the other parts saw: `socks` (dante), `faults` (the fault layer's
    #: connections), `dns` (bind); each None when not read, all None without witnesses
    evidence: Mapping[str, tuple[dict[str, Any], ...] | None] | None = None

    @property
    def origin_seen(self) -> bool:
        return bool(self.origin)


@dataclass(frozen=True)
class Client:
    """A client of a matrix: its name in reports, and its command (with placeholders)."""

    name: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class MatrixResult:
    """One client's run over the scenarios."""

    run_id: str
    command: tuple[str, ...]
    timeout: float
    outcomes: tuple[Outcome, ...]
    seconds: float
    started: float = field(default_factory=time.time)
    client: str = ""                  # its name in reports ("": the command's program)

    @property
    def passed(self) -> int:
        return sum(o.verdict.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed


def substitute(command: Sequence[str], scenario: Scenario) -> list[str]:
    """`{url}`, `{https_url}` and `{scenario}` replaced in each argument; any other
    braces (curl's `-w '%{http_code}'`, JSON) are left alone."""
    values = {"{url}": scenario.url, "{https_url}": scenario.https_url,
              "{scenario}": scenario.name}
    out = []
    for arg in command:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        out.append(arg)
    return out


def run_scenario(scenario: Scenario, command: Sequence[str], timeout: float,
                 base_env: Mapping[str, str] | None = None,
                 gate: CredentialGate | None = None,
                 groups: ProcessGroups | None = None) -> Outcome:
    argv = tuple(substitute(command, scenario))
    with scenario.watching():
        try:
            with (gate or CredentialGate()).hold(scenario.credential):
                completed = run_bounded(argv, scenario.environ(base_env), timeout, groups)
        except OSError as exc:
            completed = Completed(127, False, 0.0, b"", f"lab: cannot run {argv[0]}: {exc}\n"
                                  .encode())
        attempts = scenario.attempts()
    records = tuple(scenario.origin_saw())
    # a refusal's time (`within`) is judged once every run is in: `prompt`
    return Outcome(scenario, argv, completed, records,
                   judge(scenario, completed.exit_code, completed.timed_out, records,
                         attempts=attempts))


def default_jobs() -> int:
    """Runs at once unless told: 4 per CPU. curl's whole catalogue takes as long as with
    every run at once (the slow scenarios wait, they do not work); forty JVMs at once
    on two cores would each take longer than the bound."""
    return 4 * (os.cpu_count() or 1)


def prompt(done: Mapping[str, Outcome], name: str) -> Outcome:
    """`name`'s outcome, a refusal bounded in time (`within`) judged on the time it took
    beyond the quickest other run of the same command in this matrix: what the client
    needs to start and ask at all (a JVM's or Python's start-up, under whatever load
    the machine has) is not the refusal's. Alone in its matrix, on its whole time."""
    outcome = done[name]
    if outcome.scenario.within is None:
        return outcome
    others = [o.run.seconds for n, o in done.items() if n != name]
    beyond = outcome.run.seconds - min(others, default=0.0)
    return replace(outcome, verdict=judge(outcome.scenario, outcome.run.exit_code,
                                          outcome.run.timed_out, list(outcome.origin),
                                          seconds=beyond))


def new_run_id() -> str:
    """Unique per run, short enough to read in a URL."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]


#: `pause(service)`: a context manager holding `service` frozen for its block, then
#: the lab healthy again before it is left (`lab.stack.service_faults.paused`).
Pauser = Callable[[str], AbstractContextManager[None]]


def credentials(endpoints: Endpoints, scenarios: Sequence[Scenario] = ()) -> Masker:
    """Every credential a scenario's client is given, the wrong ones too (a wrong
    password is the right one with a suffix), as a Masker."""
    pairs = [(user, password) for port in endpoints.proxy.values()
             for user, password in ((port.username, port.password),
                                    (port.denied_username, port.denied_password),
                                    (port.uncached_username, port.uncached_password))]
    pairs += [(s.credential[0].partition(":")[2], s.credential[1])
              for s in scenarios if s.credential]
    return Masker.of(pairs)


def masked(result: MatrixResult, masker: Masker) -> MatrixResult:
    """`result` with every credential `masker` knows hidden, wherever a report shows
    it: environments, commands, client output, origin records, reasons."""
    def outcome(o: Outcome) -> Outcome:
        scenario = replace(o.scenario, credential=None,
                           env={k: masker.text(v) for k, v in o.scenario.env.items()})
        run = replace(o.run, stdout=masker.bytes(o.run.stdout),
                      stderr=masker.bytes(o.run.stderr))
        return replace(o, scenario=scenario, argv=tuple(map(masker.text, o.argv)), run=run,
                       origin=tuple(masker.json(list(o.origin))),
                       proxy=None if o.proxy is None else tuple(masker.json(list(o.proxy))),
                       evidence=None if o.evidence is None else {
                           k: None if v is None else tuple(masker.json(list(v)))
                           for k, v in o.evidence.items()},
                       verdict=replace(o.verdict, reason=masker.text(o.verdict.reason)))

    return replace(result, command=tuple(map(masker.text, result.command)),
                   outcomes=tuple(map(outcome, result.outcomes)))


def run_matrix(endpoints: Endpoints, command: Sequence[str], names: Sequence[str], *,
               timeout: float = DEFAULT_TIMEOUT, jobs: int | None = None,
               base_env: Mapping[str, str] | None = None,
               pause: Pauser | None = None, secrets: Masker | None = None,
               directory: Directory | None = None,
               witnesses: Witnesses | None = None) -> MatrixResult:
    """Run `command` once per named scenario (see `run_clients`, of which this is the
    one-client case)."""
    [result] = run_clients(endpoints, [Client("", tuple(command))], names, timeout=timeout,
                           jobs=jobs, base_env=base_env, pause=pause, secrets=secrets,
                           directory=directory, witnesses=witnesses)
    return result


def client_slug(name: str) -> str:
    """A client's name as it goes in a URL, a directory, an HTML anchor and a JUnit
    classname: two clients whose slugs are equal are one client."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "client"


def _run(outcome: Outcome, gateway: str | None) -> evidence.Run:
    """What tying evidence to it needs of one run."""
    scenario, port = outcome.scenario, spec(outcome.scenario.name).port
    through_squid = [r for r in outcome.origin if r.get("client") == scenario.proxy_lab_address]
    return evidence.Run(scenario.token, port, tunnel=scenario.scheme == "https"
                        and not scenario.direct, began=outcome.run.began,
                        ended=outcome.run.began + outcome.run.seconds, origin=outcome.origin,
                        through_squid=bool(through_squid) and not scenario.direct
                        and port != "socks", gateway=gateway, user=_proxy_user(scenario))


def _proxy_user(scenario: Scenario) -> str | None:
    """The user in the proxy URL the scenario gives its client (None: none)."""
    for name in ("all_proxy", "http_proxy", "https_proxy"):
        if scenario.env.get(name):
            try:
                return urllib.parse.urlsplit(scenario.env[name]).username
            except ValueError:
                return None
    return None


def run_clients(endpoints: Endpoints, clients: Sequence[Client], names: Sequence[str], *,
                timeout: float = DEFAULT_TIMEOUT, jobs: int | None = None,
                base_env: Mapping[str, str] | None = None,
                pause: Pauser | None = None, secrets: Masker | None = None,
                directory: Directory | None = None,
                witnesses: Witnesses | None = None,
                fault_server: FaultServer | None = None) -> list[MatrixResult]:
    """Run each client's command once per named scenario, all in parallel (`jobs` at a
    time, default `default_jobs()`), and judge each run; a result per client. Each
    client has its own tokens (its run id: the matrix's, dot, its name) and ticket
    caches, in a temp dir removed at the end; the `proxy-down` port is held closed for
    the whole run. Runs of any clients that send squid one user different passwords
    wait for each other (`CredentialGate`). No result shows a credential: neither the
    scenarios' nor `secrets`.

    Scenarios judged on how long their refusal took (`within`) run after the others,
    together. Scenarios that pause a service (`dc-down`) break the others, so they run
    afterwards, every client's inside one `pause(service)`, which must also wait until
    the lab is healthy again; without `pause` they are refused. `directory` (the DC as
    its administrator) prepares the account scenarios that need it; `witnesses` (the logs
    of squid, dante, bind and the fault layer) give each run what they saw of it;
    `fault_server`, started early, carries the fault scenarios' proxies (this run stops
    it)."""
    shared, alone = split_exclusive(names)
    if alone and pause is None:
        raise LabError(f"{alone[0]} pauses a lab service, and this run cannot: "
                       "`lab matrix` runs it")
    run_id = new_run_id()
    started = time.monotonic()
    several = len(clients) > 1
    # where each part's log ends, asked while the fault gateways start
    marking = ThreadPoolExecutor(max_workers=1)
    marks_now = marking.submit(witnesses.marks) if witnesses else None
    marking.shutdown(wait=False)
    with tempfile.TemporaryDirectory(prefix="lab-matrix-") as workdir, closed_port() as down, \
            fault_gateways(endpoints, [spec(n) for n in names], len(clients),
                           fault_server) as gateways:
        marks = marks_now.result() if marks_now else {}
        runs = [f"{run_id}.{client_slug(c.name)}" if several else run_id for c in clients]
        by_client: list[dict[str, Scenario]] = [{} for _ in clients]

        def build(phase: Sequence[str]) -> None:
            if not phase:
                return
            for index, (client, own) in enumerate(zip(clients, runs, strict=True)):
                built = build_scenarios(endpoints, phase, run=own,
                                        workdir=Path(workdir) / client_slug(client.name),
                                        down_port=down.getsockname()[1],
                                        gateways=gateways.of_client(index),
                                        exclusive=True, directory=directory)
                # a new dict, not an update: the runs already going read the old one
                by_client[index] = {**by_client[index], **{s.name: s for s in built}}

        gate, groups = CredentialGate(), ProcessGroups()
        done: list[dict[str, Outcome]] = [{} for _ in clients]

        def run_all(tasks: list[tuple[int, str]], workers: int | None = None) -> None:
            if not tasks:
                return
            with ThreadPoolExecutor(max_workers=workers or jobs or default_jobs()) as pool:
                try:
                    for (index, name), outcome in zip(tasks, pool.map(
                            lambda task: run_scenario(by_client[task[0]][task[1]],
                                                      clients[task[0]].command, timeout,
                                                      base_env, gate, groups), tasks),
                                                      strict=True):
                        done[index][name] = outcome
                except BaseException:     # Ctrl-C: stop every client, start no other
                    groups.stop()
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise

        def every_client(phase: Sequence[str]) -> list[tuple[int, str]]:
            return [(index, name) for name in phase for index in range(len(clients))]

        # a refusal judged on how long it took runs after the others, beside only its
        # own kind: forty clients starting at once on two cores would count against it
        timed = [n for n in shared if spec(n).within is not None]
        # fault scenarios on the open port wait on their toxics (seconds of latency, a
        # stall) rather than work, and need no DC: they run from the start to the end,
        # beside every phase and outside `jobs`
        spanning = [n for n in shared if n not in timed and spec(n).fault
                    and spec(n).port == "noauth"]
        rest = [n for n in shared if n not in timed and n not in spanning]
        paused = dict.fromkeys(str(spec(n).pause) for n in alone)
        # while the DC is frozen, the scenarios that never involve it run beside its
        # runs: the pause costs the matrix its own seconds, not theirs as well
        while_dc_down = [n for n in rest if not needs_dc(n)] if "dc" in paused else []
        early: dict[str, ReadEarly] | None = None
        try:
            # and they start first: the others are built while they wait (a ticket, CA
            # bundles), so the longest of them is not held up by that
            build(spanning)
            waiting = every_client(spanning)
            side = ThreadPoolExecutor(max_workers=1)
            beside = side.submit(run_all, waiting, len(waiting) or 1)
            side.shutdown(wait=False)
            try:
                build([n for n in names if n not in spanning])
                run_all(every_client([n for n in rest if n not in while_dc_down]))
                run_all(every_client(timed))
                # the exclusive phase: each paused service once, every client's runs inside
                for service in paused:
                    with pause(service):  # type: ignore[misc]  (checked above)
                        run_all(every_client([n for n in alone if spec(n).pause == service]
                                             + (while_dc_down if service == "dc" else [])))
                # the runs still going (a stall: seconds) are the open port's: the logs
                # are read while they run, once the others' last lines are surely written
                # (a session's end comes a moment after its client's), and after them
                # only those they have added to
                if witnesses is not None and not wait([beside], timeout=SLACK).done:
                    early = evidence.read_early(witnesses, marks, ["squid", "dante", "bind"])
            except BaseException:
                groups.stop()
                # the runs beside stopped the others because they failed: their error is
                # the matrix's (bounded: every client is killed now)
                failure = beside.exception()
                if failure is not None and not isinstance(failure, Stopped):
                    raise failure from None
                raise
            beside.result()           # its error, in this thread; bounded as each run is
        except BaseException:              # the same in the exclusive phase (idempotent)
            groups.stop()
            raise
        seconds = time.monotonic() - started
        saw: dict[str, dict[str, Any]] = {}
        if witnesses is not None:
            # while the fault proxies still answer: their journal is read beside the logs
            facts = [_run(o, Gateways.name(index, name) if spec(name).fault else None)
                     for index, outcomes in enumerate(done) for name, o in outcomes.items()]
            seen = evidence.gather(witnesses, marks, facts, gateways.events, early)
            saw = evidence.tie(seen, facts, witnesses.outside)

    def judged(outcomes: dict[str, Outcome], name: str) -> Outcome:
        outcome = prompt(outcomes, name)
        if not saw:
            return outcome
        parts = saw[outcome.scenario.token]
        proxy = parts["proxy"]
        return replace(outcome, proxy=None if proxy is None else tuple(proxy),
                       evidence={k: None if v is None else tuple(v) for k, v in parts.items()
                                 if k != "proxy"})

    results = []
    for client, own, scenarios, outcomes in zip(clients, runs, by_client, done, strict=True):
        result = MatrixResult(own, client.command, timeout,
                              tuple(judged(outcomes, n) for n in names if n in outcomes),
                              seconds, client=client.name)
        masker = credentials(endpoints, list(scenarios.values())) + (secrets or Masker())
        results.append(masked(result, masker))
    return results
