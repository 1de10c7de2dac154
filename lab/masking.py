"""Credentials kept out of what the lab writes for people and CI: reports and the
client output they carry. Reports become CI artifacts, often public; a `curl -v` in a
matrix prints the Basic header, and a proxy URL in an environment panel its password.

A `Masker` knows the credentials and hides each in every form it travels in: plain,
percent-encoded however (proxy URLs), and base64 `user:password` (Basic headers).
Whatever follows an `Authorization` header's scheme is hidden too, credentials or not
(an NTLM answer can be cracked offline; a Negotiate token replayed), and so is any
URL's password.
Standard library only.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

MASK = "***"
#: Shorter strings are not masked: they occur everywhere, and a credential that
#: short is no secret anyway (the lab's passwords follow Samba's policy, 7 or more).
MIN_SECRET = 4
#: Whatever follows an Authorization header's scheme, however it is printed: a raw
#: header (`curl -v`), or a header map's entry (`"proxy-authorization": ["NTLM ..."]`,
#: Python's `b'Authorization': b'Basic ...'`, Node's inspect).
_AUTH_HEADER = re.compile(r"""(?i)(authorization['"]?\s*[:=]\s*\[?\s*b?['"]?\s*"""
                          r"""[A-Za-z0-9_-]+[ \t]+)[^\s"'<>\],]+""")
#: A URL's password, whoever's: `scheme://user:password@host`.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")


def _pattern(secret: str) -> str:
    """A regular expression for `secret` however it was percent-encoded: each character
    as itself or as `%XX` (either case, byte by byte), a space also as `+`."""
    parts = []
    for char in secret:
        encoded = "".join(f"%{byte:02x}" for byte in char.encode())
        options = [re.escape(char), "(?i:" + re.escape(encoded) + ")"]
        if char == " ":
            options.append(r"\+")
        parts.append("(?:" + "|".join(options) + ")")
    return "".join(parts)


def _forms(user: str | None, password: str) -> set[str]:
    """The regular expressions that find `password`: percent-encoded or not, and as
    base64 `user:password` (a Basic header)."""
    if len(password) < MIN_SECRET:
        return set()
    forms = {_pattern(password)}
    if user:
        forms.add(re.escape(base64.b64encode(f"{user}:{password}".encode()).decode()))
    return forms


@dataclass(frozen=True)
class Masker:
    """Hides the given credentials, in each of their forms, longest first (so no
    shorter form leaves part of a longer one)."""

    patterns: tuple[str, ...] = ()

    @classmethod
    def of(cls, credentials: Iterable[tuple[str | None, str | None]]) -> Masker:
        """From (user, password) pairs; a pair without a password is skipped."""
        forms: set[str] = set()
        for user, password in credentials:
            if password:
                forms |= _forms(user, password)
        return cls(tuple(sorted(forms, key=len, reverse=True)))

    def __add__(self, other: Masker) -> Masker:
        return Masker(tuple(sorted(set(self.patterns) | set(other.patterns), key=len,
                                   reverse=True)))

    @cached_property
    def _secrets(self) -> re.Pattern | None:
        return re.compile("|".join(self.patterns)) if self.patterns else None

    def text(self, text: str) -> str:
        text = _AUTH_HEADER.sub(lambda match: match.group(1) + MASK, text)
        text = _URL_PASSWORD.sub(lambda match: match.group(1) + MASK + "@", text)
        return self._secrets.sub(MASK, text) if self._secrets else text

    def bytes(self, data: bytes) -> bytes:
        """`text` for output of unknown encoding: bytes that are not UTF-8 stay as they are."""
        return self.text(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape")

    def json(self, value: Any) -> Any:
        """A JSON value with every string in it masked (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(key)): self.json(item) for key, item in value.items()}
        return value
