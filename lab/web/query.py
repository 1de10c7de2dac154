"""The origin's query arguments: read, checked, and a bad one answered with one line.

Every parametrised page of the mock web server (`/slow?seconds=`, `/large?bytes=`,
`/reset?after=`, ...) reads its numbers here, so `?bytes=abc`, `?seconds=-1` or an
argument that is not UTF-8 is a 400 naming the range everywhere, never a 500 or a
silently different request. Runs in the web image on Debian's Twisted 22.4 too.
"""

from __future__ import annotations

import re

from twisted.web import server

_INTEGER = re.compile(r"[0-9]{1,18}", re.ASCII)
_NUMBER = re.compile(r"[0-9]{1,18}(\.[0-9]{1,9})?", re.ASCII)


class BadQuery(ValueError):
    """A query argument out of its range: the message is the 400's one line."""


def query_arg(request: server.Request, name: str, default: str) -> str:
    """The first value of query argument `name`, else `default`."""
    values = request.args.get(name.encode())
    if not values:
        return default
    try:
        return values[0].decode()
    except UnicodeDecodeError:
        raise BadQuery(f"{name} is not UTF-8") from None


def number_arg(request: server.Request, name: str, default: float, upper: float,
               *, lower: float = 0, integer: bool = False) -> float:
    """Query argument `name` as a number from `lower` to `upper` (an integer if
    `integer`), `default` when absent; anything else is a BadQuery."""
    text = query_arg(request, name, "")
    if text == "":
        return default
    kind = "an integer" if integer else "a number"
    wanted = f"{name} must be {kind} from {_plain(lower)} to {_plain(upper)}, got {text[:40]!r}"
    # plain ASCII digits only: Python's int() and float() also take "1_0", " 5 ", "1e3",
    # "inf" and other scripts' digits, which no client means
    if not (_INTEGER if integer else _NUMBER).fullmatch(text):
        raise BadQuery(wanted)
    value = int(text) if integer else float(text)
    if not lower <= value <= upper:
        raise BadQuery(wanted)
    return value


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def bad_query(request: server.Request, error: BadQuery) -> bytes:
    """The 400 for `error`: its line, as plain text."""
    request.setResponseCode(400)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return f"{error}\n".encode()

