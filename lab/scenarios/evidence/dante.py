"""What dante (the SOCKS5 server) saw of a run: its log (see the proxy image's
danted.conf), read once per matrix.

dante logs a session when it opens (`[`) and when it ends (`]`, with why), and a refusal
(a wrong password) at once. Each line names the client's connection as dante sees it
(the fault layer's side), the user, and for a session dante's own address towards the
target and the target as an address (dante resolves a name before it logs: socks5h
and socks5 look alike here). A session is tied to its run by dante's port towards the
origin, which the origin recorded with the run's request (`client_port`), the other
lines of its connection with it; a refusal, or a session that reached no origin, by
time: to the one SOCKS run whose span holds it (`lab.scenarios.evidence.windows`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lab.scenarios.evidence.log import from_inside
from lab.scenarios.evidence.windows import Window, given_by_time

#: the lab's name for dante's port, as the catalogue names it
PORT = "socks"

_LINE = re.compile(r"\((?P<time>\d+\.\d+)\) danted\[\d+\]: info: (?P<verdict>pass|block)"
                   r"\(\d+\): tcp/(?P<command>\w+) (?P<edge>[\[\]]): (?P<rest>.*)")
#: `[method%user@]a.b.c.d.port`: dante writes an address's port after a dot
_ADDRESS = re.compile(r"(?:(?P<method>\w+)%(?P<user>[^@\s]*)@)?"
                      r"(?P<host>\d+\.\d+\.\d+\.\d+)\.(?P<port>\d+)")
_REFUSED_USER = re.compile(r'for user "(?P<user>[^"]*)"')


def parse(text: str) -> list[dict[str, Any]]:
    """The log's session and refusal lines as records; other lines are left out."""
    records = []
    for line in text.splitlines():
        match = _LINE.search(line)
        if match is None:
            continue
        rest = match["rest"]
        addresses = list(_ADDRESS.finditer(rest))
        if len(addresses) < 2:
            continue
        client = addresses[0]
        ending = match["edge"] == "]"
        reason = None
        if ending:                 # after the last address's "-> N: " or ": "
            reason = re.split(r"(?:-> \d+|\d+\.\d+\.\d+\.\d+\.\d+): ", rest)[-1].strip()
        user = client["user"]
        if user is None and (refused := _REFUSED_USER.search(rest)):
            user = refused["user"]
        records.append({
            "time": float(match["time"]), "port": PORT,
            "event": "refused" if match["verdict"] == "block" else
                     ("end" if ending else "open"),
            "command": match["command"], "user": user,
            "connection": f"{client['host']}:{client['port']}",
            "external_port": int(addresses[2]["port"]) if len(addresses) >= 4 else None,
            "target": (f"{addresses[3]['host']}:{addresses[3]['port']}"
                       if len(addresses) >= 4 else None),
            "reason": reason})
    return records


def of_run(records: list[dict[str, Any]], origin: Iterable[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """The records of the sessions whose origin requests are `origin`'s (by dante's
    port towards the origin), with the other lines of their connections."""
    reached = {r.get("client_port") for r in origin} - {None}
    connections = {r["connection"] for r in records if r["external_port"] in reached}
    return [r for r in records if r["connection"] in connections]


def sessions_by_time(records: list[dict[str, Any]], tied: Iterable[dict[str, Any]],
                     windows: Mapping[str, Window]) -> dict[str, list[dict[str, Any]]]:
    """The connections' records not among `tied`, each connection given to the one SOCKS
    run whose span holds its first line; marked `tied_by: time`."""
    ids = {id(r) for r in tied}
    connections: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if id(r) not in ids and not from_inside(r["connection"]):
            connections.setdefault(r["connection"], []).append(r)
    return given_by_time(connections.values(), windows, by_user=True)


def describe(records: list[dict[str, Any]]) -> str:
    """One line: each session or refusal, in order."""
    if not records:
        return "no SOCKS session tied to this run"
    parts = []
    for r in records:
        who = f" as {r['user']}" if r["user"] else ""
        if r["event"] == "refused":
            parts.append(f"refused{who}: {r['reason'] or 'no reason given'}")
        elif r["event"] == "open":
            parts.append(f"session{who} to {r['target']}")
        else:
            parts.append(f"ended ({r['reason']})")
    timed = " (tied by time: the only SOCKS run of that user then)" if any(
        r.get("tied_by") == "time" for r in records) else ""
    return "; ".join(parts) + timed
