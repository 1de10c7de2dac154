"""Credentials kept out of what the lab writes for people and CI: reports and the
client output they carry. Reports become CI artifacts, often public; a `curl -v` in a
matrix prints the Basic header, and a proxy URL in an environment panel its password.

A `Masker` knows the credentials and hides each in every form it travels in: plain,
percent-encoded (proxy URLs), and base64 `user:password` (Basic headers). Whatever
follows an `Authorization:` or `Proxy-Authorization:` header's scheme is hidden too,
credentials or not (an NTLM answer can be cracked offline; a Negotiate token replayed).
Standard library only.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "***"
#: Shorter strings are not masked: they occur everywhere, and a credential that
#: short is no secret anyway (the lab's passwords follow Samba's policy, 7 or more).
MIN_SECRET = 4
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization:[ \t]*[A-Za-z0-9_-]+[ \t]+)[^\s\"'<]+")


def _forms(user: str | None, password: str) -> set[str]:
    forms = {password, urllib.parse.quote(password, safe=""), urllib.parse.quote(password),
             urllib.parse.quote_plus(password)}
    if user:
        forms.add(base64.b64encode(f"{user}:{password}".encode()).decode())
    return {form for form in forms if len(form) >= MIN_SECRET}


@dataclass(frozen=True)
class Masker:
    """Hides the given credentials, in each of their forms, longest first (so no
    shorter form leaves part of a longer one)."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, credentials: Iterable[tuple[str | None, str | None]]) -> Masker:
        """From (user, password) pairs; a pair without a password is skipped."""
        forms: set[str] = set()
        for user, password in credentials:
            if password:
                forms |= _forms(user, password)
        return cls(tuple(sorted(forms, key=len, reverse=True)))

    def __add__(self, other: Masker) -> Masker:
        return Masker(tuple(sorted(set(self.secrets) | set(other.secrets), key=len,
                                   reverse=True)))

    def text(self, text: str) -> str:
        text = _AUTH_HEADER.sub(lambda match: match.group(1) + MASK, text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def bytes(self, data: bytes) -> bytes:
        """`text` for output of unknown encoding: bytes that are not UTF-8 stay as they are."""
        return self.text(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape")
