"""What the proxy saw of a run: squid's `lab.log` (see the proxy image's squid.conf),
read once per matrix, each line tied to its run by the token in its URL.

A line is `time port method status offered user URL`: `offered` is the scheme the
client's `Proxy-Authorization` named (basic, negotiate, ntlm; `-`: none), never the
credential; `user` the one squid authenticated. A CONNECT's URL is `host:port`, with
no token: tunnels are not tied to their run here (their records stay empty).
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, Protocol

from lab.config.topology import PORTS_BY_NAME

#: squid's port inside the container -> the lab's name for it (corp, ntlm, ...)
PORT_NAMES = {port.container_port: name.removeprefix("proxy_")
              for name, port in PORTS_BY_NAME.items() if name.startswith("proxy_")}


#: the schemes as HTTP writes them
SCHEME_NAMES = {"basic": "Basic", "negotiate": "Negotiate", "ntlm": "NTLM"}


class ProxyLog(Protocol):
    """squid's lab.log, read from where it is (`lab.stack.proxy_log`)."""

    def mark(self) -> int:
        """Where the log ends now."""

    def since(self, mark: int) -> str | None:
        """What was written after `mark`; None if that cannot be known."""


def _user(logged: str) -> str:
    """squid's `[` encoding undone: a backslash escapes the next character (`\\\\` is a
    backslash, `\\r`, `\\n`, `\\t` are CR, LF, TAB), and %, [, ] and bytes outside ASCII
    are %-encoded."""
    controls = {"r": "\r", "n": "\n", "t": "\t"}
    unescaped = re.sub(r"\\(.)", lambda m: controls.get(m.group(1), m.group(1)), logged)
    return urllib.parse.unquote(unescaped)


def parse(text: str) -> list[dict[str, Any]]:
    """The log's lines as records; a line that is not one is left out."""
    records = []
    for line in text.splitlines():
        # squid's `[` encoding leaves a space in a user name as it is: the user is
        # everything between the scheme and the URL (which has none)
        head, _, url = line.rpartition(" ")
        fields = head.split(" ", 5)
        if len(fields) != 6 or not url:
            continue
        when, port, method, status, offered, user = fields
        try:
            records.append({"time": float(when), "port": PORT_NAMES.get(int(port), port),
                            "method": method, "status": int(status),
                            "offered": None if offered == "-" else offered,
                            "user": None if user == "-" else _user(user),
                            "url": url})
        except ValueError:
            continue
    return records


#: how long squid may take to log what it has already answered (it writes a line when
#: the transaction ends, which can be after the client has its answer and has exited)
LOGGED_BOUND = 5.0
_POLL = 0.1


def collect(log: ProxyLog, mark: int, expected: Iterable[str],
            bound: float = LOGGED_BOUND) -> list[dict[str, Any]] | None:
    """The records logged since `mark`, once every token in `expected` (runs whose
    request the origin saw arrive through the proxy) has at least one, or the bound
    has passed; None if the log cannot be read."""
    deadline = time.monotonic() + bound
    while True:
        text = log.since(mark)
        if text is None:
            return None
        records = parse(text)
        if all(of_run(records, token) for token in expected) or time.monotonic() > deadline:
            return records
        time.sleep(_POLL)


def of_run(records: list[dict[str, Any]], token: str) -> list[dict[str, Any]]:
    """The records of the run whose URLs carry `token` (`/matrix/<run>/<scenario>`),
    oldest first, without the URL (the token says it)."""
    mine = [r for r in records
            if (urllib.parse.urlsplit(r["url"]).path + "/").startswith(token + "/")]
    return [{k: v for k, v in r.items() if k != "url"} for r in sorted(mine,
                                                                      key=lambda r: r["time"])]


def describe(records: list[dict[str, Any]]) -> str:
    """One line: the status sequence, the scheme(s) the client answered with, the user."""
    if not records:
        return "nothing tied to this run (a CONNECT tunnel, or no request)"
    statuses = " → ".join(str(r["status"]) for r in records)
    schemes = list(dict.fromkeys(r["offered"] for r in records if r["offered"]))
    users = list(dict.fromkeys(r["user"] for r in records if r["user"]))
    named = [SCHEME_NAMES.get(s, s) for s in schemes]
    how = f"answered with {', '.join(named)}" if schemes else "no credentials offered"
    return f"{statuses} on {records[0]['port']}: {how}" + (
        f" (user {', '.join(users)})" if users else "")
