"""`Proxy-Authenticate` parsing, and the credentials that answer it.

The answers themselves (Basic, Negotiate, NTLM) live in `lab.proxy.schemes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*')


@dataclass(frozen=True)
class Challenge:
    scheme: str                      # as the proxy spelled it, e.g. "Basic"
    params: dict[str, str] = field(default_factory=dict)
    token: str | None = None         # token68 form, e.g. a Negotiate/NTLM blob

    @property
    def name(self) -> str:
        return self.scheme.lower()


def parse_challenges(values: list[str] | list[bytes]) -> list[Challenge]:
    """Every challenge in one or more `Proxy-Authenticate` header values (RFC 9110 11.6.1)."""
    result: list[Challenge] = []
    for value in values:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        pos = 0
        while pos < len(text):
            match = re.compile(rf"[\s,]*({_TOKEN})").match(text, pos)
            if not match:
                break
            scheme, pos = match.group(1), match.end()
            params: dict[str, str] = {}
            token = None
            token68 = re.compile(r"\s+([A-Za-z0-9\-._~+/]+=*)\s*(?:,|$)").match(text, pos)
            if token68:   # a whole blob up to "," or the end (NTLM, Negotiate)
                token, pos = token68.group(1), token68.end()
            else:
                while True:
                    param = _PARAM.match(text, pos)
                    if not param:
                        break
                    raw = param.group(2)
                    if raw.startswith('"'):
                        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                    params[param.group(1).lower()] = raw
                    pos = param.end()
                    if pos < len(text) and text[pos] == ",":
                        nxt = re.compile(rf",\s*({_TOKEN})\s*(=?)").match(text, pos)
                        if nxt and nxt.group(2) == "=":
                            pos += 1
                            continue
                    break
            result.append(Challenge(scheme, params, token))
    return result


class Credentials:
    """A user name and password that never show up in repr(), str() or logs."""

    __slots__ = ("username", "_password")

    def __init__(self, username: str, password: str):
        self.username = username
        self._password = password

    @property
    def password(self) -> str:
        return self._password

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    __str__ = __repr__


def find_challenge(challenges: list[Challenge], scheme: str) -> Challenge | None:
    """The challenge for `scheme` that carries a token (NTLM's second leg), if any."""
    for challenge in challenges:
        if challenge.name == scheme and challenge.token:
            return challenge
    return None
