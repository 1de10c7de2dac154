"""Why a run went as it did, in a line each: findings from what the proxy and the
origin saw of it (lab.scenarios.evidence) and, where the lab saw nothing, the client's
own output. A failed run gets the findings that explain it; a passing one may carry a
warning (a wrong password tried again and again is refused, as it must be, and still
locks a Windows account).

Each finding is a pure function of one run's JSON row (`lab.scenarios.reports`), so a
saved run (`lab report`) gets the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lab.scenarios.catalogue import NAMES, spec
from lab.scenarios.evidence.squid import SCHEME_NAMES

Row = dict[str, Any]

#: what each proxy port takes; a client answering with another scheme gets 403
ACCEPTED = {"basic": {"basic"}, "ldap": {"basic"}, "group": {"basic"},
            "negotiate": {"negotiate"}, "ntlm": {"ntlm"},
            "corp": {"negotiate", "ntlm", "basic"}, "noauth": set(), "bump": set()}
#: the challenge each single-scheme port sends, as a client sees it
CHALLENGE = {port: SCHEME_NAMES[min(s)] for port, s in ACCEPTED.items() if len(s) == 1}
#: what clients (curl, Python, Node, Java, Go, wget) print when a connection is refused
REFUSED = re.compile(r"Connection refused|ECONNREFUSED|Failed to connect|ConnectException|"
                     r"connect: connection refused|NewConnectionError", re.IGNORECASE)
#: ... and when a name does not resolve
UNRESOLVED = re.compile(r"Could not resolve host|Name or service not known|"
                        r"NameResolutionError|ENOTFOUND|UnknownHostException|no such host|"
                        r"unable to resolve host address|Temporary failure in name resolution",
                        re.IGNORECASE)


def _never_answered(row: Row) -> str | None:
    proxy = row["proxy"]
    if row["verdict"] == "pass" or not proxy:
        return None
    if all(r["status"] == 407 for r in proxy) and not any(r["offered"] for r in proxy):
        return (f"never answered the 407: {len(proxy)} request(s), none with credentials "
                "(it could not, or would not, use the scheme offered)")
    return None


def _wrong_scheme(row: Row) -> str | None:
    for r in row["proxy"]:
        offered, port = r["offered"], r["port"]
        if offered and port in CHALLENGE and offered not in ACCEPTED.get(port, set()):
            return (f"answered the {CHALLENGE[port]} challenge with "
                    f"{SCHEME_NAMES.get(offered, offered)} ({port} port: {r['status']})")
    return None


def _went_direct(row: Row) -> str | None:
    if row["verdict"] == "pass" or row["proxy"] or row["origin"] or row["name"] not in NAMES:
        return None
    s = spec(row["name"])
    # a tunnel that reached no origin is tied to its run only by time, and SOCKS goes to
    # dante: their absence from squid's records says nothing
    if s.direct or s.port in (None, "socks") or s.scheme != "http" or s.expect != "ok":
        return None
    resolved_nowhere = UNRESOLVED.search(row["stdout"] + row["stderr"])
    if s.pac:           # a PAC client may also have stopped at a proxy the PAC named
        return ("the PAC named a proxy; the client went direct, and the lab's names resolve "
                "nowhere on this host (inferred: nothing reached the proxy, and the client "
                "says the name did not resolve)") if resolved_nowhere else None
    if resolved_nowhere:
        return ("sent no request to the proxy (went direct): the lab's names resolve nowhere "
                "on this host (inferred: nothing reached the proxy, and the client says the "
                "name did not resolve)")
    return "sent no request to the proxy (inferred: nothing reached the proxy or the origin)"


def _stopped_at_a_dead_proxy(row: Row) -> str | None:
    if row["verdict"] == "pass" or row["name"] not in NAMES or row["origin"]:
        return None
    if spec(row["name"]).pac and REFUSED.search(row["stdout"] + row["stderr"]) \
            and not row["proxy"]:
        return ("stopped at a proxy the PAC named that refuses connections, instead of "
                "moving on to the next route (inferred from the client's own output)")
    return None


def _ignored_no_proxy(row: Row) -> str | None:
    if row["name"] in NAMES and spec(row["name"]).direct and not spec(row["name"]).pac \
            and row["proxy"]:
        return f"ignored no_proxy: {len(row['proxy'])} request(s) went through the proxy"
    return None


def _wrong_password_again(row: Row) -> str | None:
    refused = [r for r in row["proxy"] if r["status"] == 407 and r["offered"] == "basic"]
    if len(refused) > 1:
        return (f"tried a refused password {len(refused)} times (each one a bad password "
                "at the DC: a Windows account locks after a few)")
    return None


def _connections(row: Row) -> tuple[int, int, int]:
    """(client connections, requests, distinct requests) in a run's proxy records."""
    proxy = [r for r in row["proxy"] if r.get("connection")]
    return (len({r["connection"] for r in proxy}), len(proxy),
            len({(r["method"], r.get("url")) for r in proxy}))


def _connections_per_request(row: Row) -> str | None:
    connections, _, distinct = _connections(row)
    if connections < distinct + 2:     # a 407 that closes costs one more: not a finding
        return None
    handshake = {r["offered"] for r in row["proxy"]} & {"ntlm", "negotiate"}
    why = (" (NTLM and Negotiate authenticate a connection: the handshake must stay on "
           "one)") if handshake else ""
    return (f"{connections} connections for {distinct} request(s): the same request sent "
            f"again on a new connection each time{why}")


#: requests enough for "every request on its own connection" to be a habit, not chance
HABIT = 3


def _new_connection_each_time(row: Row) -> str | None:
    connections, requests, distinct = _connections(row)
    if row["verdict"] != "pass" or distinct < HABIT or connections != requests:
        return None
    return (f"a new connection for every request ({requests} requests, "
            f"{connections} connections) on a proxy that keeps connections alive: each "
            "costs a handshake, and on an authenticating proxy a new authentication")


def _resolved_the_name_itself(row: Row) -> str | None:
    if row["verdict"] == "pass" or row["origin"] or row["name"] not in NAMES:
        return None
    if spec(row["name"]).port == "socks" and spec(row["name"]).expect == "ok" \
            and UNRESOLVED.search(row["stdout"] + row["stderr"]):
        dante = ("the SOCKS server saw no session from it, "
                 if row.get("evidence", {}).get("socks") == [] else "")
        return ("resolved the name itself (socks5 instead of socks5h): the lab's names "
                f"resolve only at the proxy (inferred: {dante}nothing reached the origin, and "
                "the client says the name did not resolve)")
    return None


FINDINGS: tuple[Callable[[Row], str | None], ...] = (
    _never_answered, _wrong_scheme, _went_direct, _stopped_at_a_dead_proxy,
    _ignored_no_proxy, _wrong_password_again, _connections_per_request,
    _new_connection_each_time, _resolved_the_name_itself)


def diagnose(row: Row) -> list[str]:
    """The findings for one run's row, in FINDINGS' order (a row saved before the
    proxy's evidence existed has none of it: no finding from it)."""
    if row.get("proxy") is None:        # squid's log not read (or a run saved before)
        return []
    row = {"origin": [], "stdout": "", "stderr": "", **row}
    return [found for finding in FINDINGS if (found := finding(row))]
