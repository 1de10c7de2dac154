"""`Proxy-Authenticate` parsing and the answers to it.

An `Authenticator` turns a proxy's challenge into a `Proxy-Authorization`
value. Basic is one round and can be sent pre-emptively; connection-bound
schemes (Negotiate, NTLM) plug in with the same shape.
"""

from __future__ import annotations

import base64
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


class BasicAuthenticator:
    """RFC 7617 Basic: one round; after the first success the header is sent
    pre-emptively, so an authenticated request costs no extra round trip."""

    scheme = "basic"
    connection_bound = False

    def __init__(self, credentials: Credentials):
        self._credentials = credentials

    def header(self, challenge: Challenge | None = None) -> bytes:
        pair = f"{self._credentials.username}:{self._credentials.password}".encode()
        return b"Basic " + base64.b64encode(pair)

    def __repr__(self) -> str:
        return f"BasicAuthenticator({self._credentials!r})"


def choose_authenticator(challenges: list[Challenge], credentials: Credentials | None):
    """The authenticator for the first offered scheme we can answer, or None."""
    if credentials is None:
        return None
    for challenge in challenges:
        if challenge.name == "basic":
            return BasicAuthenticator(credentials)
    return None
