"""What the lab's DNS (bind) was asked during a run: its query log (see the DNS image's
named.conf), read once per matrix.

Only questions from outside the lab network count (they arrive through the published
port, from the lab's gateway): the proxies' own lookups are theirs, not the client's.
Most clients on this host never ask the lab's DNS (their resolver is the host's), so
none is the usual answer. A question carries no token: it goes to every run whose span
holds it, each told how many runs shared that moment.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from lab.scenarios.evidence.windows import Window, during

_LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) client @\S+ "
                   r"(?P<client>[0-9a-fA-F.:]+)#(?P<port>\d+) \([^)]*\): query: "
                   r"(?P<name>\S+) (?P<class>\S+) (?P<type>\S+)")


def parse(text: str) -> list[dict[str, Any]]:
    """The log's query lines as records; other lines are left out."""
    records = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        when = datetime.datetime.fromisoformat(match["time"].replace("Z", "+00:00"))
        records.append({"time": when.timestamp(), "client": match["client"],
                        "name": match["name"], "type": match["type"]})
    return records


def by_time(records: list[dict[str, Any]], outside: str, windows: Mapping[str, Window]
            ) -> dict[str, list[dict[str, Any]]]:
    """The questions from `outside` (the lab's gateway), each given to every run whose
    span holds it, with `runs`: how many runs that was."""
    found: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["client"] != outside:
            continue
        runs = during(windows, r["time"])
        for run in runs:
            found.setdefault(run, []).append({**r, "runs": len(runs)})
    return found


def describe(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no question to the lab's DNS from this host (clients here use its resolver)"
    names = list(dict.fromkeys(f"{r['name']} {r['type']}" for r in records))
    shared = max(r["runs"] for r in records)
    return (f"asked the lab's DNS for {', '.join(names)}" + (
        f" (while {shared} runs ran: any of them may have asked)" if shared > 1 else ""))
