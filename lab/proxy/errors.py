"""Errors a proxy client's user can act on. None of them ever carries credentials."""

from __future__ import annotations

from twisted.internet import defer
from twisted.web import error


class ProxyError(error.Error):
    """The proxy (not the origin) refused or failed the request."""

    def __init__(self, status: int, message: str, schemes: tuple[str, ...] = ()):
        super().__init__(str(status).encode(), message.encode())
        self.code = status
        self.schemes = schemes
        self.text = message

    def __str__(self) -> str:
        return self.text


class ProxyAuthenticationError(ProxyError):
    """407: no credentials, wrong ones, or none for a scheme the proxy offers.

    `schemes` lists what the proxy offered (e.g. ("Basic",)). A subclass of
    `twisted.web.error.Error`, as the seed's client raised, so old tests pass.
    """


class ProxyForbiddenError(ProxyError):
    """403 from the proxy: authenticated (or no auth needed) but not allowed,
    e.g. a CONNECT to a destination the lab proxy does not tunnel to, or a user
    outside the group a port requires."""


class ProxyTunnelError(ProxyError):
    """The proxy answered CONNECT with another non-200 status."""


class ProxyUnreachableError(ConnectionError):
    """No proxy answers at the configured address."""


class OriginError(error.Error):
    """The origin server answered with an error status (404, 401, 500, ...),
    passed through by the proxy; distinct from the proxy's own errors."""

    def __init__(self, status: int, url: str, body: bytes = b""):
        super().__init__(str(status).encode(), f"origin answered {status} for {url}".encode(),
                         body)
        self.code = status
        self.url = url

    def __str__(self) -> str:
        return f"origin answered {self.code} for {self.url}"


class RequestTimeoutError(defer.TimeoutError):
    """No complete response within the time given."""
