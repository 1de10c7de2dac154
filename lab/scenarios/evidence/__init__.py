"""What every part of the lab saw of each run of a matrix: its evidence.

- squid (`squid`): each request, its status sequence, the scheme offered, the user,
  the client connection; by the run's token, a tunnel by the origin's record or time;
- dante (`dante`): SOCKS sessions and refusals; by the origin's record or time;
- the fault layer (`fault_layer`): the connections relayed, bytes, toxics, how they
  ended; joined to squid's and dante's records by the fault layer's side of each
  connection, or (fault scenarios) by the run's own fault proxy on this host;
- bind (`bind`): questions from outside the lab network during the run;
- the origin: what reached it under the run's token (`Scenario.origin_saw`).

Each part is read from a mark taken before the first run (`Witnesses`), once per matrix
or, for a log read while its longest runs still went on (`read_early`), twice at most:
a matrix costs a few reads, not a few per run. A part that cannot be read gives None
(not known), never an empty list (seen nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from lab.scenarios.evidence import bind, dante, fault_layer, squid
from lab.scenarios.evidence.log import Journal, Log, ReadEarly
from lab.scenarios.evidence.windows import Window

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class Witnesses:
    """Where a running lab's parts write what they see; any may be absent."""

    squid: Log | None = None
    dante: Log | None = None
    bind: Log | None = None
    faults: Journal | None = None
    #: the lab's gateway: where questions from this host reach bind from
    outside: str | None = None

    def marks(self) -> dict[str, int]:
        """Where each part's record ends now, all asked at once (a part that cannot say
        is left out: it will not be read)."""
        marks = _at_once({name: source.mark for name, source in (
            ("squid", self.squid), ("dante", self.dante), ("bind", self.bind),
            ("faults", self.faults)) if source is not None})
        return {name: mark for name, mark in marks.items() if mark is not None}


def _at_once(calls: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each call's result, the calls made side by side (each is a round trip to the
    engine or the fault layer: a matrix waits for the slowest, not their sum)."""
    with ThreadPoolExecutor(max_workers=max(len(calls), 1)) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}


@dataclass(frozen=True)
class Run:
    """What tying evidence needs of one run."""

    token: str
    port: str | None                  # the lab proxy port its scenario uses
    tunnel: bool                      # HTTPS through a CONNECT
    began: float                      # wall clock
    ended: float
    origin: Sequence[dict[str, Any]] = ()
    #: the origin saw it arrive through squid (not dante, not direct): squid has logged it
    through_squid: bool = False
    #: its fault scenario's own fault proxy on this host, if it has one
    gateway: str | None = None
    #: the proxy user its client was given (None: none)
    user: str | None = None


@dataclass(frozen=True)
class Seen:
    """What each part logged during a matrix (None: could not be read)."""

    squid: Records | None = None
    dante: Records | None = None
    bind: Records | None = None
    faults: Records | None = None                 # connections, the shared fault layer's
    gateways: Records | None = None               # ... the fault scenarios' own


def _read(witnesses: Witnesses, marks: Mapping[str, int], name: str) -> Any:
    source: Log | Journal | None = getattr(witnesses, name)
    return source.since(marks[name]) if source is not None and name in marks else None


def read_early(witnesses: Witnesses, marks: Mapping[str, int],
               names: Sequence[str]) -> dict[str, ReadEarly]:
    """The named logs read now, side by side, while runs still go on (`gather(early=)`):
    once they end, each is read again only if it has changed since (a stat)."""
    return _at_once({name: lambda name=name: ReadEarly(getattr(witnesses, name), marks[name])
                     for name in names if getattr(witnesses, name) is not None
                     and name in marks})


def gather(witnesses: Witnesses, marks: Mapping[str, int], runs: Sequence[Run],
           gateway_events: Callable[[], list[dict[str, Any]] | None] | None = None,
           early: Mapping[str, ReadEarly] | None = None) -> Seen:
    """Each part's records since its mark; squid's once every run the origin saw come
    through squid has its line (bounded: `squid.LOGGED_BOUND`). `gateway_events` asks
    the fault scenarios' own proxies (read beside the rest: it waits for their
    connections to close). `early`: logs already read (`read_early`), read again only
    if they have changed since."""
    witnesses = replace(witnesses, **(early or {}))
    expected = {r.token: list(r.origin) for r in runs if r.through_squid}
    calls = {
        "squid": lambda: (squid.collect(witnesses.squid, marks["squid"], expected)
                          if witnesses.squid and "squid" in marks else None),
        "dante": lambda: _read(witnesses, marks, "dante"),
        "bind": lambda: _read(witnesses, marks, "bind"),
        "faults": lambda: _read(witnesses, marks, "faults"),
        "gateways": gateway_events or (lambda: None)}
    found = _at_once(calls)
    return Seen(squid=found["squid"],
                dante=None if found["dante"] is None else dante.parse(found["dante"]),
                bind=None if found["bind"] is None else bind.parse(found["bind"]),
                faults=None if found["faults"] is None else
                fault_layer.connections(found["faults"]),
                gateways=None if found["gateways"] is None else
                fault_layer.connections(found["gateways"]))


def tie(seen: Seen, runs: Sequence[Run], outside: str | None = None
        ) -> dict[str, dict[str, Records | None]]:
    """Each run's evidence (by token): `proxy`, `socks`, `faults`, `dns`; None for a
    part that was not read."""
    windows = {r.token: Window(str(r.port), r.began, r.ended, r.user) for r in runs}
    tunnels = {r.token: windows[r.token] for r in runs if r.tunnel and r.port != dante.PORT}
    socks_runs = {r.token: windows[r.token] for r in runs if r.port == dante.PORT}
    proxy: dict[str, Records] = {}
    if seen.squid is not None:
        found = squid.Index(seen.squid)
        own = {r.token: found.of_run(r.token, r.origin) for r in runs}
        timed = squid.tunnels_by_time(found, [x for xs in own.values() for x in xs],
                                      tunnels)
        proxy = {t: sorted(own[t] + timed.get(t, []), key=lambda x: x["time"]) for t in own}
    socks: dict[str, Records] = {}
    if seen.dante is not None:
        own = {r.token: dante.of_run(seen.dante, r.origin) if r.port == dante.PORT else []
               for r in runs}
        timed = dante.sessions_by_time(seen.dante, [x for xs in own.values() for x in xs],
                                       socks_runs)
        socks = {t: sorted(own[t] + timed.get(t, []), key=lambda x: x["time"]) for t in own}
    dns = (bind.by_time(seen.bind, outside, windows)
           if seen.bind is not None and outside else {})

    def faults(run: Run) -> Records | None:
        if run.gateway is not None:
            return (None if seen.gateways is None
                    else fault_layer.of_proxy(seen.gateways, run.gateway))
        if seen.faults is None:
            return None
        return fault_layer.of_run(seen.faults, proxy.get(run.token, []) +
                                  socks.get(run.token, []))

    return {r.token: {"proxy": proxy.get(r.token) if seen.squid is not None else None,
                      "socks": socks.get(r.token) if seen.dante is not None else None,
                      "faults": faults(r),
                      "dns": dns.get(r.token, []) if seen.bind is not None and outside
                      else None}
            for r in runs}
