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


class NegotiateAuthenticator:
    """SPNEGO/Kerberos (RFC 4559) with pyspnego. Each `header()` is a fresh context
    and so a fresh AP-REQ (a replayed one would be refused), built from the ticket
    cache (KRB5CCNAME) or, with credentials, from the password. One round; sent
    pre-emptively after the first 407. `service_host` is the proxy's name in its
    service principal HTTP/<service_host>."""

    scheme = "negotiate"
    connection_bound = False

    def __init__(self, credentials: Credentials | None, service_host: str):
        self._credentials = credentials
        self._service_host = service_host

    def header(self, challenge: Challenge | None = None) -> bytes:
        import spnego
        from spnego.exceptions import SpnegoError

        from lab.proxy.errors import ProxyAuthenticationError

        creds = self._credentials
        try:
            context = spnego.client(creds.username if creds else None,
                                    creds.password if creds else None,
                                    hostname=self._service_host, service="HTTP",
                                    protocol="kerberos")
            token = context.step(None)
        except SpnegoError as exc:
            where = "with these credentials" if creds else "from the ticket cache " \
                "(run kinit, or `lab ad kinit USER` and export what it prints)"
            message = str(exc).replace(creds.password, "<hidden>") if creds else str(exc)
            raise ProxyAuthenticationError(
                407, f"Negotiate: no Kerberos ticket for HTTP/{self._service_host} {where}: "
                f"{message}", ("Negotiate",)) from None
        return b"Negotiate " + base64.b64encode(token)

    def __repr__(self) -> str:
        return f"NegotiateAuthenticator({self._credentials!r}, {self._service_host!r})"


class NTLMAuthenticator:
    """NTLM with pyspnego: three legs (negotiate, challenge, authenticate) that must
    share one connection; the proxy then trusts that connection."""

    scheme = "ntlm"
    connection_bound = True

    def __init__(self, credentials: Credentials):
        import spnego

        self._credentials = credentials
        self._context = spnego.client(credentials.username, credentials.password,
                                      protocol="ntlm")

    def header(self, challenge: Challenge | None = None) -> bytes:
        return b"NTLM " + base64.b64encode(self._context.step(None))

    def step(self, challenge: Challenge) -> bytes:
        return b"NTLM " + base64.b64encode(self._context.step(base64.b64decode(challenge.token)))

    def __repr__(self) -> str:
        return f"NTLMAuthenticator({self._credentials!r})"


def kerberos_available() -> bool:
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError:
        return False
    return True


def choose_authenticator(challenges: list[Challenge], credentials: Credentials | None,
                         service_host: str = ""):
    """The authenticator for the first offered scheme we can answer, or None.

    Negotiate is answered from the ticket cache even without credentials (single
    sign-on), when the Kerberos libraries are installed (`pip install lab[kerberos]`).
    """
    for challenge in challenges:
        if challenge.name == "negotiate" and kerberos_available():
            return NegotiateAuthenticator(credentials, service_host)
        if credentials is None:
            continue
        if challenge.name == "basic":
            return BasicAuthenticator(credentials)
        if challenge.name == "ntlm":
            return NTLMAuthenticator(credentials)
    return None


def find_challenge(challenges: list[Challenge], scheme: str) -> Challenge | None:
    """The challenge for `scheme` that carries a token (NTLM's second leg), if any."""
    for challenge in challenges:
        if challenge.name == scheme and challenge.token:
            return challenge
    return None
