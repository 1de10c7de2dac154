"""Errors a proxy client's user can act on: one root, `ProxyError`.

    ProxyError                      (twisted.web.error.Error, as the seed's client raised)
    ├── ProxyUnreachableError       (also ConnectionError): nothing answers at the proxy address
    ├── ProxyAuthenticationError    407: no, wrong or unusable credentials; `.schemes` offered
    ├── ProxyForbiddenError         403 the proxy made itself
    ├── ProxyTunnelError            CONNECT answered with another status (`.code` is the real one)
    │   └── SOCKSConnectError       a SOCKS5 proxy refused CONNECT (`.reply`: RFC 1928's REP)
    ├── ProxyProtocolError          a malformed or oversized answer (`.code` is None)
    ├── ProxyConnectionLostError    (also ConnectionError): the connection closed mid-exchange
    ├── OriginTLSError              TLS with the origin, through the tunnel, failed
    ├── PACError                    the PAC file could not be fetched or run, or gave no route
    └── RequestTimeoutError         (also defer.TimeoutError): no complete answer in time

`OriginError` is deliberately outside: it is the origin's status, passed through
intact, and `except ProxyError` must not swallow an origin's 404.

`translate()` turns what Twisted raises (ResponseFailed, ConnectError, ParseError,
...) into one of these, so no raw Twisted exception reaches the user. None of
these messages ever carries credentials: they are built from statuses, scheme
names and host names only.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet import error as net_error
from twisted.python.failure import Failure
from twisted.web import _newclient
from twisted.web import error as web_error


class ProxyError(web_error.Error):
    """The proxy (not the origin) refused, failed or garbled the request."""

    def __init__(self, status: int | None, message: str, schemes: tuple[str, ...] = ()):
        if status is not None:
            super().__init__(str(status).encode(), message.encode())
        else:   # no status from the proxy: none is invented (web.error.Error wants one)
            Exception.__init__(self, None, message.encode(), None)
            self.status, self.message, self.response = None, message.encode(), None
        self.code = status
        self.schemes = schemes
        self.text = message

    def __str__(self) -> str:
        return self.text


class ProxyUnreachableError(ProxyError, ConnectionError):
    """No proxy answers at the configured address."""

    def __init__(self, message: str):
        ProxyError.__init__(self, None, message)


class ProxyAuthenticationError(ProxyError):
    """407: no credentials, wrong ones, or none for a scheme the proxy offers.
    `schemes` lists what the proxy offered (e.g. ("Basic",))."""


class ProxyForbiddenError(ProxyError):
    """403 from the proxy: authenticated (or no auth needed) but not allowed."""


class ProxyTunnelError(ProxyError):
    """The proxy answered CONNECT with another non-200 status: `code` is that status."""


class SOCKSConnectError(ProxyTunnelError):
    """A SOCKS5 proxy answered CONNECT with a failure reply: `reply` is RFC 1928's
    REP code (e.g. 2 "connection not allowed by ruleset", 5 "connection refused")
    and `meaning` its text. `code` is None: SOCKS has no HTTP status."""

    def __init__(self, reply: int, meaning: str, message: str):
        ProxyError.__init__(self, None, message)
        self.reply = reply
        self.meaning = meaning


class ProxyProtocolError(ProxyError):
    """The proxy's answer was not HTTP we accept (bad status line, oversized head,
    a garbled authentication token). `code` is None: the proxy sent no usable status."""

    def __init__(self, message: str):
        super().__init__(None, message)


class ProxyConnectionLostError(ProxyError, ConnectionError):
    """The connection closed before the exchange completed."""

    def __init__(self, message: str):
        ProxyError.__init__(self, None, message)


class OriginTLSError(ProxyError):
    """The tunnel opened, but TLS with the origin failed (e.g. an untrusted certificate).
    `issuer` names who issued the refused chain, when known (a bumping proxy's CA)."""

    def __init__(self, message: str, issuer: str | None = None):
        super().__init__(None, message)
        self.issuer = issuer


class PACError(ProxyError):
    """The PAC file could not be fetched or evaluated, or named no route we can use."""

    def __init__(self, message: str):
        super().__init__(None, message)


class RequestTimeoutError(ProxyError, defer.TimeoutError):
    """No complete response within the time given."""

    def __init__(self, message: str):
        ProxyError.__init__(self, None, message)


class OriginError(web_error.Error):
    """The origin server answered with an error status (404, 401, 500, ...),
    passed through by the proxy; distinct from the proxy's own errors."""

    def __init__(self, status: int, url: str, body: bytes = b""):
        super().__init__(str(status).encode(), f"origin answered {status} for {url}".encode(),
                         body)
        self.code = status
        self.url = url

    def __str__(self) -> str:
        return f"origin answered {self.code} for {self.url}"


_LOST = (net_error.ConnectionLost, net_error.ConnectionDone, _newclient.ConnectionAborted,
         _newclient.RequestNotSent)


def _short(data: bytes, limit: int = 60) -> str:
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


def translate(exc: BaseException, proxy: str, what: str) -> BaseException:
    """The `ProxyError` for whatever Twisted raised while `what` went through `proxy`.

    Cancellation stays a CancelledError (the caller cancelled, and says why), and
    exceptions that are not Twisted's (a bug) pass through untouched.
    """
    if isinstance(exc, ProxyError | defer.CancelledError):
        return exc
    if isinstance(exc, _newclient._WrapperException):
        reasons = [r.value for r in exc.reasons if isinstance(r, Failure)]
        # the most telling reason first: our own error, then a parse error, then the rest
        reasons.sort(key=lambda r: (not isinstance(r, ProxyError),
                                    not isinstance(r, _newclient.ParseError)))
        if reasons:
            return translate(reasons[0], proxy, what)
    if isinstance(exc, net_error.ConnectError | net_error.DNSLookupError):
        return ProxyUnreachableError(
            f"cannot reach proxy {proxy} ({type(exc).__name__}): "
            "is the lab up? (`make lab-up`, `lab status`)")
    if isinstance(exc, _newclient.ParseError):
        return ProxyProtocolError(f"malformed answer from proxy {proxy} to {what}: "
                                  f"{exc.args[0]} {_short(exc.data)}")
    if isinstance(exc, _LOST):
        return ProxyConnectionLostError(
            f"the connection through proxy {proxy} closed before {what} completed")
    if type(exc).__module__.startswith(("OpenSSL", "service_identity")):
        return OriginTLSError(f"TLS with the origin failed for {what} through proxy {proxy}: "
                              f"{exc}")
    if type(exc).__module__.startswith("twisted."):
        return ProxyError(None, f"{what} through proxy {proxy} failed: "
                          f"{type(exc).__name__}: {exc}")
    return exc
