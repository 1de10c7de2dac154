"""What squid saw of a run: its `lab.log` (see the proxy image's squid.conf),
read once per matrix, each line tied to its run.

A line is `time port method status offered connection server_port user URL`: `offered`
is the scheme the client's `Proxy-Authorization` named (basic, negotiate, ntlm; `-`:
none), never the credential; `connection` the client's connection as squid sees it (the
fault layer's side: one per client connection), `server_port` squid's own port towards
the origin; `user` the one squid authenticated.

A plain-HTTP line is tied to its run by the token in its URL. A CONNECT's URL is
`host:port`, with no token: a tunnel is tied by squid's port towards the origin, which
the origin recorded with the run's HTTPS request (`client_port`), and the lines before
it on the same client connection (its 407s) come with it. A tunnel that never reached the
origin (refused, or its handshake never finished) is tied by time: to the one tunnel run
on its port whose time it falls in (`tunnels_by_time`; marked so); when several were,
to none.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.config.topology import PORTS_BY_NAME
from lab.scenarios.evidence.log import Log
from lab.scenarios.evidence.windows import Window, given_by_time

#: squid's port inside the container -> the lab's name for it (corp, ntlm, ...)
PORT_NAMES = {port.container_port: name.removeprefix("proxy_")
              for name, port in PORTS_BY_NAME.items() if name.startswith("proxy_")}


#: the schemes as HTTP writes them
SCHEME_NAMES = {"basic": "Basic", "negotiate": "Negotiate", "ntlm": "NTLM"}


def _user(logged: str) -> str:
    """squid's `[` encoding undone: a backslash escapes the next character (`\\\\` is a
    backslash, `\\r`, `\\n`, `\\t` are CR, LF, TAB), and %, [, ] and bytes outside ASCII
    are %-encoded."""
    controls = {"r": "\r", "n": "\n", "t": "\t"}
    unescaped = re.sub(r"\\(.)", lambda m: controls.get(m.group(1), m.group(1)), logged)
    return urllib.parse.unquote(unescaped)


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) else None


def parse(text: str) -> list[dict[str, Any]]:
    """The log's lines as records; a line that is not one is left out."""
    records = []
    for line in text.splitlines():
        # squid's `[` encoding leaves a space in a user name as it is: the user is
        # everything between the server port and the URL (which has none)
        head, _, url = line.rpartition(" ")
        fields = head.split(" ", 7)
        if len(fields) != 8 or not url:
            continue
        when, port, method, status, offered, connection, server_port, user = fields
        try:
            records.append({"time": float(when), "port": PORT_NAMES.get(int(port), port),
                            "method": method, "status": int(status),
                            "offered": None if offered == "-" else offered,
                            "user": None if user == "-" else _user(user),
                            "connection": connection, "server_port": _port(server_port),
                            "url": url})
        except ValueError:
            continue
    return records


#: how long squid may take to log what it has already answered (it writes a line when
#: the transaction ends, which can be after the client has its answer and has exited)
LOGGED_BOUND = 5.0
_POLL = 0.1


def collect(log: Log, mark: int, expected: Mapping[str, Sequence[dict[str, Any]]],
            bound: float = LOGGED_BOUND) -> list[dict[str, Any]] | None:
    """The records logged since `mark`, once every run in `expected` (token -> the
    origin's records of it: runs the origin saw arrive through squid) has at least one,
    or the bound has passed; None if the log cannot be read."""
    deadline = time.monotonic() + bound
    while True:
        text = log.since(mark)
        if text is None:
            return None
        records = parse(text)
        found = Index(records)
        if all(found.of_run(token, origin) for token, origin in expected.items()) \
                or time.monotonic() > deadline:
            return records
        time.sleep(_POLL)


def token_of(url: str) -> str | None:
    """The `/matrix/<run>/<scenario>` a request's URL starts with; None for another."""
    try:
        parts = urllib.parse.urlsplit(url).path.split("/")
    except ValueError:
        return None
    return "/".join(parts[:4]) if len(parts) >= 4 and parts[1] == "matrix" else None


class Index:
    """A matrix's squid records, looked up by what ties them to a run: the token in a
    URL, squid's port towards the origin for a tunnel, a tunnel's client connection (on
    its lab port: the fault layer's side of two connections to two ports may be one
    address)."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records
        self.by_token: dict[str, list[dict[str, Any]]] = {}
        self.tunnels_by_server_port: dict[int, list[dict[str, Any]]] = {}
        self.tunnels: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in records:
            token = token_of(r["url"])
            if token is not None:
                self.by_token.setdefault(token, []).append(r)
            if r["method"] == "CONNECT":
                self.tunnels.setdefault((r["port"], r["connection"]), []).append(r)
                if r["server_port"] is not None:
                    self.tunnels_by_server_port.setdefault(r["server_port"], []).append(r)

    def of_run(self, token: str, origin: Iterable[dict[str, Any]] = ()
               ) -> list[dict[str, Any]]:
        """The records of the run whose URLs carry `token` (`/matrix/<run>/<scenario>`),
        or whose tunnel reached the origin as one of `origin`'s HTTPS records (by squid's
        port towards it), with the lines before them on the same client connections;
        oldest first."""
        mine = {id(r): r for r in self.by_token.get(token, [])}
        for o in origin:
            if o.get("scheme") != "https" or o.get("client_port") is None:
                continue
            for tunnel in self.tunnels_by_server_port.get(o["client_port"], []):
                # a tunnel's 407s came before it on its connection (one client's)
                for r in self.tunnels[(tunnel["port"], tunnel["connection"])]:
                    mine[id(r)] = r
        return sorted(mine.values(), key=lambda r: r["time"])


def of_run(records: list[dict[str, Any]], token: str,
           origin: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """`Index.of_run` over `records` (for one run; a matrix indexes once)."""
    return Index(records).of_run(token, origin)


def tunnels_by_time(found: Index, tied: Iterable[dict[str, Any]],
                    windows: Mapping[str, Window]) -> dict[str, list[dict[str, Any]]]:
    """The tunnels (a client connection's CONNECT lines on one port) not among `tied`,
    each given to the one run of `windows` on its port whose span holds the tunnel's
    first line (`lab.scenarios.evidence.windows`); each line marked `tied_by: time`."""
    ids = {id(r) for r in tied}
    return given_by_time(([r for r in lines if id(r) not in ids]
                          for lines in found.tunnels.values()), windows)


def describe(records: list[dict[str, Any]]) -> str:
    """One line: the status sequence, the scheme(s) the client answered with, the user."""
    if not records:
        return "nothing tied to this run (no request, or a tunnel that reached no origin)"
    statuses = " → ".join(str(r["status"]) for r in records)
    schemes = list(dict.fromkeys(r["offered"] for r in records if r["offered"]))
    users = list(dict.fromkeys(r["user"] for r in records if r["user"]))
    named = [SCHEME_NAMES.get(s, s) for s in schemes]
    how = f"answered with {', '.join(named)}" if schemes else "no credentials offered"
    connections = len({r.get("connection") for r in records} - {None})
    over = f" over {connections} connections" if connections > 1 else ""
    timed = " (tied by time: the only tunnel on that port then)" if any(
        r.get("tied_by") == "time" for r in records) else ""
    return f"{statuses} on {records[0]['port']}{over}: {how}" + (
        f" (user {', '.join(users)})" if users else "") + timed
