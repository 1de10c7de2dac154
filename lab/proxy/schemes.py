"""The answers to a proxy's challenges, and which one to pick: like a browser.

Preference, among the schemes the proxy offers (`PREFERENCE`):

1. Negotiate (Kerberos), when it can start: the Kerberos libraries are installed
   and a ticket (KRB5CCNAME) or, with a password, a realm in krb5.conf yields an
   AP-REQ. Single sign-on: works without credentials.
2. NTLM, with credentials (user as `DOMAIN\\user`).
3. Basic, with credentials.

A scheme that cannot start (no realm, no ticket, no credentials) is skipped for
the next one, so a corporate `Negotiate` + `Basic` proxy still gets Basic from
a machine without Kerberos. Each authenticator belongs to one request's
exchange: nothing here is shared between requests.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Protocol

from lab.proxy.challenges import Challenge, Credentials
from lab.proxy.errors import ProxyProtocolError

PREFERENCE = ("negotiate", "ntlm", "basic")


class SchemeUnavailable(Exception):
    """This scheme cannot start here (e.g. no Kerberos realm): try the next one."""


class Authenticator(Protocol):
    scheme: str               # lower-case name, e.g. "ntlm"
    connection_bound: bool    # the proxy trusts the connection once the exchange completes

    def header(self) -> bytes:
        """The first `Proxy-Authorization` value; SchemeUnavailable if it cannot start."""

    def step(self, challenge: Challenge) -> bytes:
        """The answer to a continuation challenge (a token), on the same connection."""


class BasicAuthenticator:
    """RFC 7617 Basic: one round; after a success the agent sends it pre-emptively."""

    scheme = "basic"
    connection_bound = False

    def __init__(self, credentials: Credentials):
        self._credentials = credentials

    def header(self) -> bytes:
        pair = f"{self._credentials.username}:{self._credentials.password}".encode()
        return b"Basic " + base64.b64encode(pair)

    def step(self, challenge: Challenge) -> bytes:
        raise ProxyProtocolError("Basic has no second round")

    def __repr__(self) -> str:
        return f"BasicAuthenticator({self._credentials!r})"


class NegotiateAuthenticator:
    """SPNEGO/Kerberos (RFC 4559) with pyspnego. Each `header()` is a fresh context
    and so a fresh AP-REQ (squid refuses a replayed one), from the ticket cache or,
    with credentials, from the password. `service_host` names the proxy in its
    principal HTTP/<service_host>."""

    scheme = "negotiate"
    connection_bound = False

    def __init__(self, credentials: Credentials | None, service_host: str):
        self._credentials = credentials
        self._service_host = service_host
        self._context = None

    def header(self) -> bytes:
        import spnego

        creds = self._credentials
        try:
            self._context = spnego.client(
                creds.username if creds else None, creds.password if creds else None,
                hostname=self._service_host, service="HTTP", protocol="kerberos")
            token = self._context.step(None)
        except Exception as exc:   # SpnegoError, krb5's and gssapi's own: all "cannot start"
            where = "with these credentials" if creds else "from the ticket cache " \
                "(run kinit, or `lab ad kinit USER` and export what it prints)"
            message = str(exc).replace(creds.password, "<hidden>") if creds else str(exc)
            raise SchemeUnavailable(f"Negotiate: no Kerberos ticket for HTTP/"
                                    f"{self._service_host} {where}: {message}") from None
        return b"Negotiate " + base64.b64encode(token)

    def step(self, challenge: Challenge) -> bytes:
        try:
            token = self._context.step(base64.b64decode(challenge.token, validate=True))
        except Exception:
            raise ProxyProtocolError("the proxy's Negotiate token could not be used") from None
        return b"Negotiate " + base64.b64encode(token or b"")

    def __repr__(self) -> str:
        return f"NegotiateAuthenticator({self._credentials!r}, {self._service_host!r})"


class NTLMAuthenticator:
    """NTLM with pyspnego (pure Python): negotiate, challenge, authenticate, all on
    one connection, which the proxy then trusts."""

    scheme = "ntlm"
    connection_bound = True

    def __init__(self, credentials: Credentials):
        self._credentials = credentials
        self._context = None

    def header(self) -> bytes:
        import spnego

        self._context = spnego.client(self._credentials.username, self._credentials.password,
                                      protocol="ntlm")
        return b"NTLM " + base64.b64encode(self._context.step(None))

    def step(self, challenge: Challenge) -> bytes:
        try:
            token = base64.b64decode(challenge.token, validate=True)
            answer = self._context.step(token)
        except Exception:   # binascii.Error, and pyspnego's KeyError, struct.error, ...
            raise ProxyProtocolError("the proxy's NTLM challenge is malformed "
                                     f"({len(challenge.token or '')} characters)") from None
        return b"NTLM " + base64.b64encode(answer)

    def __repr__(self) -> str:
        return f"NTLMAuthenticator({self._credentials!r})"


def kerberos_available() -> bool:
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError:
        return False
    return True


Factory = Callable[[Credentials | None, str], Authenticator | None]


class _KerberosMissing:
    """Stands in for Negotiate where the Kerberos libraries are absent, so the error
    says what to install instead of only "no scheme could be answered"."""

    scheme = "negotiate"
    connection_bound = False

    def header(self) -> bytes:
        raise SchemeUnavailable("Negotiate: Kerberos support is not installed (pip install "
                                "'corplab[kerberos]', which builds against libkrb5-dev), then "
                                "kinit, or `lab ad kinit USER` and export what it prints")


def _negotiate(credentials: Credentials | None, service_host: str):
    if not kerberos_available():
        return _KerberosMissing()
    return NegotiateAuthenticator(credentials, service_host)


def _ntlm(credentials: Credentials | None, service_host: str):
    return NTLMAuthenticator(credentials) if credentials is not None else None


def _basic(credentials: Credentials | None, service_host: str):
    return BasicAuthenticator(credentials) if credentials is not None else None


#: scheme name -> factory, in order of preference (tests swap in fakes).
DEFAULT_SCHEMES: dict[str, Factory] = {"negotiate": _negotiate, "ntlm": _ntlm, "basic": _basic}


def candidates(challenges: list[Challenge], credentials: Credentials | None, service_host: str,
               schemes: dict[str, Factory] = DEFAULT_SCHEMES) -> list[Authenticator]:
    """Authenticators for the offered schemes we can answer, most preferred first."""
    offered = {c.name for c in challenges}
    found = []
    for name, factory in schemes.items():
        if name in offered:
            auth = factory(credentials, service_host)
            if auth is not None:
                found.append(auth)
    return found


def for_scheme(name: str, credentials: Credentials | None, service_host: str,
               schemes: dict[str, Factory] = DEFAULT_SCHEMES) -> Authenticator | None:
    """A fresh authenticator for a scheme that worked before (pre-emptive use)."""
    factory = schemes.get(name)
    return factory(credentials, service_host) if factory else None
