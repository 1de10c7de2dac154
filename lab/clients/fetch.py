"""`lab fetch`: one request through a lab proxy port with lab.proxy, for exploring.

Runs under `task.react`, so no error path (a malformed URL, a failed kinit)
can leave the reactor running; every outcome becomes an exit code and one line.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

from twisted.internet import defer, ssl, task

from lab.endpoints import Endpoints, ProxyPort
from lab.errors import LabError


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    proxy_error: str | None     # squid's X-Squid-Error when the proxy made this answer


def check_url(url: str) -> None:
    """A URL `lab fetch` can send, or a LabError saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        parts.port                                    # noqa: B018 - raises for a bad port
    except ValueError as exc:
        raise LabError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabError(f"{url!r}: give an http:// or https:// URL with a host name, "
                       "e.g. http://web.ad.example.com/")


def trust_root_for(endpoints: Endpoints, url: str):
    """The lab web service's CA for https URLs (the lab's origins are the only ones
    its proxy tunnels to)."""
    if url.startswith("https://"):
        with open(endpoints.web.ca_cert, "rb") as pem:
            return ssl.Certificate.loadPEM(pem.read())
    return None


async def fetch(endpoints: Endpoints, url: str, via: str, username: str | None,
                password: str | None) -> Answer:
    """GET `url` through proxy port `via` with these credentials (None: none).

    For `negotiate`, a ticket for the user is fetched first into a private cache
    (removed afterwards), and the proxy is called by its principal's name while
    connecting to its address.
    """
    from lab.proxy.client import ProxyWebClient

    proxy: ProxyPort = endpoints.proxy[via]
    session = None
    if via == "negotiate" and username is not None:
        session = kinit_into_environment(endpoints, username, password)
        username = password = None                  # Negotiate from the ticket cache
    try:
        client = ProxyWebClient(proxy.host, proxy.port, username, password,
                                proxy_address=proxy.address,
                                trust_root=trust_root_for(endpoints, url))
        try:
            response, body = await client.request(url, follow_redirects=False)
        finally:
            await client.shutdown()
    finally:
        if session is not None:
            session.close()
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, values in response.headers.getAllRawHeaders() for value in values]
    squid = response.headers.getRawHeaders(b"x-squid-error")
    return Answer(response.code, headers, body, squid[0].decode("latin-1") if squid else None)


def kinit_into_environment(endpoints: Endpoints, username: str, password: str | None):
    """kinit into a private cache and point this process's Kerberos at it."""
    from lab.clients.ad import kinit

    kdc = endpoints.dc.kerberos
    session = kinit(username, password, endpoints.dc.realm, kdc.host, kdc.port)
    os.environ.update(session.env)
    return session


def run(endpoints: Endpoints, url: str, via: str, username: str | None,
        password: str | None) -> int:
    """Fetch under `task.react`, print the answer; the exit code says how it went."""
    check_url(url)
    outcome: dict[str, object] = {}

    async def main(_reactor):
        try:
            outcome["answer"] = await fetch(endpoints, url, via, username, password)
        except Exception as exc:     # noqa: BLE001 - reported below as one line
            outcome["error"] = exc

    try:
        task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise LabError("the fetch was interrupted") from None
    if not outcome:                  # the reactor was stopped (Ctrl-C) before an answer
        raise KeyboardInterrupt
    if "error" in outcome:
        exc = outcome["error"]
        raise LabError(str(exc) or type(exc).__name__) from None
    answer: Answer = outcome["answer"]  # type: ignore[assignment]
    print(f"HTTP {answer.status}")
    for name, value in answer.headers:
        print(f"{name}: {value}")
    print()
    sys.stdout.flush()
    sys.stdout.buffer.write(answer.body)
    sys.stdout.flush()
    if 200 <= answer.status < 300:
        return 0
    who = (f"the proxy answered {answer.status} ({answer.proxy_error})" if answer.proxy_error
           else f"the origin answered {answer.status}")
    print(f"lab: error: {who} for {url}", file=sys.stderr)
    return 1
