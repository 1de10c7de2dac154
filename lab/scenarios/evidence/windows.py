"""Runs as spans of time, for what only time can tie to a run: a tunnel that reached no
origin, a refused SOCKS session, a DNS question. A record goes to a run only when that
run was the only one it could be (on its port, at its time); else to none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

#: how long after a run's client exited a part of the lab may still log what it did (squid
#: logs a tunnel when it closes), and how far this host's and the containers' clocks may
#: read apart (one kernel's clock, read at different moments)
SLACK = 1.0

class Window(NamedTuple):
    """A run's span: the lab port its scenario uses, wall-clock start and end, and the
    user its client was given (None: none, or not known)."""

    port: str
    start: float
    end: float
    user: str | None = None


def during(windows: Mapping[str, Window], at: float, port: str | None = None,
           slack: float = SLACK) -> list[str]:
    """The runs (keys) on `port` (any, if None) whose span, `slack` wider each side,
    holds the time `at`."""
    return [key for key, w in windows.items()
            if (port is None or w.port == port) and w.start - slack <= at <= w.end + slack]


def only_run(windows: Mapping[str, Window], at: float, port: str,
             user: str | None = None) -> str | None:
    """The one run on `port` whose span holds `at`, and whose user is `user` if the
    record names one (runs one after another, as those the credential gate holds
    apart, touch: the span itself decides first, then the span with its slack); None
    if none or several."""
    for slack in (0.0, SLACK):
        runs = [key for key in during(windows, at, port, slack)
                if user is None or windows[key].user in (None, user)]
        if runs:
            return runs[0] if len(runs) == 1 else None
    return None


def given_by_time(connections: Iterable[list[dict[str, Any]]],
                  windows: Mapping[str, Window], by_user: bool = False
                  ) -> dict[str, list[dict[str, Any]]]:
    """Each connection's records (all on one port) given to the one run on that port
    whose span holds its first record (and, `by_user`, whose user is the one that record
    names: dante names the user a run's URL gave); each marked `tied_by: time`."""
    given: dict[str, list[dict[str, Any]]] = {}
    for records in connections:
        if not records:
            continue
        first = min(records, key=lambda r: r["time"])
        run = only_run(windows, first["time"], first["port"],
                       first.get("user") if by_user else None)
        if run is not None:
            given.setdefault(run, []).extend({**r, "tied_by": "time"} for r in records)
    return given
