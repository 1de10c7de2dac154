"""Per-request proxy authentication, written once for plain HTTP and for CONNECT.

An `AuthExchange` belongs to one request: it decides what that request sends
first, and how it answers each 407 it gets. `authenticate()` drives the legs
over a `Channel` (an HTTP connection from the pool, or a CONNECT tunnel being
opened) that the exchange owns until it completes, so connection-bound legs
(NTLM's negotiate/challenge/authenticate) stay on one connection.

The agent-wide `AuthMemory` keeps only what a success teaches: the scheme that
worked (Basic and Negotiate are then sent pre-emptively; NTLM starts its
handshake at once on a new connection and sends nothing on one it already
authenticated). A 407 is a refusal only of the credentials *this* request sent:
another request's 407, or a 407 to a request that sent nothing, starts an
exchange instead. Every exchange is bounded: a request sends credentials at
most once plus `MAX_STEPS` continuation tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.proxy.challenges import Challenge, Credentials, find_challenge
from lab.proxy.errors import ProxyAuthenticationError, ProxyConnectionLostError
from lab.proxy.schemes import (
    DEFAULT_SCHEMES,
    Authenticator,
    Factory,
    SchemeUnavailable,
    candidates,
    for_scheme,
)

MAX_STEPS = 2


@dataclass
class AuthMemory:
    """What one agent's requests share: the scheme that last worked."""

    scheme: str | None = None
    challenges_seen: int = 0       # 407s received (benchmarks and tests check pre-emption)


@dataclass
class Answer:
    """One leg's answer: its status, the challenges of a 407, and the channel's own object."""

    status: int
    challenges: list[Challenge] = field(default_factory=list)
    payload: Any = None


class Channel(Protocol):
    authenticated_by: str | None    # the scheme the proxy trusts this connection for

    async def send(self, authorization: bytes | None, probe: bool) -> Answer: ...

    async def finish(self, answer: Answer) -> bool:
        """Read a 407 to its end; True when the same connection can carry the next leg."""

    async def renew(self) -> None:
        """Continue on a fresh connection."""

    def trust(self, scheme: str | None) -> None:
        """The exchange succeeded; `scheme` is set when the connection is now trusted."""


class AuthExchange:
    """One request's authentication (see the module docstring)."""

    def __init__(self, memory: AuthMemory, credentials: Credentials | None, service_host: str,
                 proxy: str, what: str, schemes: dict[str, Factory] = DEFAULT_SCHEMES):
        self._memory = memory
        self._credentials = credentials
        self._service_host = service_host
        self._proxy = proxy
        self._what = what
        self._schemes = schemes
        self._auth: Authenticator | None = None
        self._sent = False        # the last leg carried our credentials
        self._steps = 0
        self.bound = False        # the next leg continues a handshake: same connection only
        self.offered: tuple[str, ...] = ()

    @property
    def preferred(self) -> str | None:
        """The scheme that worked before: connections it authenticated are taken first."""
        return self._memory.scheme

    @property
    def probe(self) -> bool:
        """The next leg opens a connection-bound handshake: the proxy will answer it
        with a challenge, so it goes without the request body."""
        return self._sent and self._auth.connection_bound and self._steps == 0

    def opening(self, authenticated_by: str | None) -> bytes | None:
        """`Proxy-Authorization` for the first leg, from what the agent learnt."""
        name = self._memory.scheme
        if name is None or authenticated_by == name:
            return None                     # nothing learnt / the connection is trusted
        auth = for_scheme(name, self._credentials, self._service_host, self._schemes)
        if auth is None:
            return None
        try:
            header = auth.header()
        except SchemeUnavailable:
            return None                     # let the proxy's challenge decide
        self._auth, self._sent, self._steps = auth, True, 0
        return header

    def answer(self, challenges: list[Challenge]) -> bytes:
        """`Proxy-Authorization` for the next leg after a 407, or raise."""
        self._memory.challenges_seen += 1
        self.offered = tuple(dict.fromkeys(c.scheme for c in challenges))
        auth = self._auth
        if self._sent:
            follow = find_challenge(challenges, auth.scheme)
            if follow is not None and auth.scheme != "basic" and self._steps < MAX_STEPS:
                self._steps += 1
                self.bound = True
                return auth.step(follow)
            raise self._error("the proxy refused the credentials")
        self.bound = False
        reasons = []
        for auth in candidates(challenges, self._credentials, self._service_host,
                               self._schemes):
            try:
                header = auth.header()
            except SchemeUnavailable as exc:
                reasons.append(str(exc))
                continue
            self._auth, self._sent, self._steps = auth, True, 0
            return header
        if reasons:
            raise self._error("no offered scheme could start: " + "; ".join(reasons))
        if self._credentials is None:
            raise self._error("the proxy wants credentials and none were given")
        raise self._error("no offered scheme can be answered with these credentials")

    def succeeded(self) -> str | None:
        """Remember what worked; the scheme when the connection is now trusted."""
        if not self._sent:
            return None
        self._memory.scheme = self._auth.scheme
        return self._auth.scheme if self._auth.connection_bound else None

    def body_error(self) -> ProxyAuthenticationError:
        return self._error("credentials needed; send a request without a body first")

    def lost_error(self) -> ProxyConnectionLostError:
        return ProxyConnectionLostError(
            f"proxy {self._proxy} closed the connection in the middle of the "
            f"{self._auth.scheme if self._auth else ''} handshake for {self._what}")

    def _error(self, why: str) -> ProxyAuthenticationError:
        offered = ", ".join(self.offered) or "nothing"
        return ProxyAuthenticationError(
            407, f"407 from proxy {self._proxy} for {self._what}: {why} (offered: {offered})",
            self.offered)


async def authenticate(exchange: AuthExchange | None, channel: Channel) -> Answer:
    """Send legs on `channel` until the proxy answers something other than 407.

    Without an exchange the first answer is returned as it is (a 407 included).
    """
    header = exchange.opening(channel.authenticated_by) if exchange else None
    while True:
        answer = await channel.send(header, probe=exchange is not None and exchange.probe)
        if answer.status != 407 or exchange is None:
            if exchange is not None:
                channel.trust(exchange.succeeded())
            return answer
        try:
            header = exchange.answer(answer.challenges)
        except BaseException:
            await channel.finish(answer)
            raise
        if not await channel.finish(answer):
            if exchange.bound:
                raise exchange.lost_error()
            await channel.renew()
