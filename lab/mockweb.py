"""The mock web server: what the lab's `web` service runs, and what tests start in-process.

Plain Twisted: it runs on Debian 12's Twisted 22.4 inside the image and on
current Twisted on the host, and knows nothing of Docker (the image copies
only this module, lab.tidy and lab.tls, so everything the site serves is here).
Listening is done by tidy servers, so `stop()` keeps their promise: it fires
only once the listeners are closed and every connection, keep-alive ones
included, is gone.

Resources (`/` lists them: HTML, or JSON with `Accept: application/json`):

- `/simpleresource` (the seed's body), `/throwerror` (404), `/unauthorized` (401),
  `/headers` (the request as the origin saw it, JSON), `/slow?seconds=N`,
  `/large?bytes=N` (chunked), `/redirect?to=PATH`, `/status?code=N`
  (that status; 503 and 429 add `Retry-After: 1`).
- `/matrix/<run>/<scenario>[/...]`: answers 200 `lab matrix <run>/<scenario> ok`
  and records the request as evidence of what reached the origin: `path`,
  `method`, `time` (reactor seconds since the epoch), `client` (the address the
  origin saw), `scheme` (http/https), `host`, `proxy_authorization` (whether
  that header reached the origin), `via` and `x_forwarded_for` (or null).
  The last `MAX_RECORDS` are kept, in memory. Answers are `no-store`, so a
  caching proxy never hides a request from the record.
- `/_lab/requests?prefix=/matrix/<run>/`: those records, oldest first, as
  `{"requests": [{...}, ...]}` (no prefix: all of them).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections import deque
from pathlib import Path

from twisted.internet import defer
from twisted.web import resource, server, util

from lab.tidy import TidyTCPServer, TidyTLSServer

#: The seed's resource names and body, kept so ported tests still match.
SIMPLERESOURCE = "simpleresource"
THROWERROR = "throwerror"
UNAUTHORIZED = "unauthorized"
SAMPLE_RESOURCE = b"<p>Hello World!</p>"
HEADERS = "headers"
SLOW = "slow"
LARGE = "large"
REDIRECT = "redirect"
STATUS = "status"
MATRIX = "matrix"
REQUESTS = "_lab/requests"

MAX_SLOW_SECONDS = 30.0
MAX_LARGE_BYTES = 64 * 1024 * 1024
#: How many /matrix/ requests the server remembers (oldest forgotten first).
MAX_RECORDS = 10_000
_CHUNK = 64 * 1024

#: What `/` lists, in order: (path, description).
INDEX = (
    ("/" + SIMPLERESOURCE, "the seed's sample page (200, HTML)"),
    ("/" + THROWERROR, "always 404"),
    ("/" + UNAUTHORIZED, "always 401"),
    ("/" + HEADERS, "the request as this origin saw it (method, headers, client), JSON"),
    ("/" + SLOW, "?seconds=N: answers after N seconds (at most 30)"),
    ("/" + LARGE, "?bytes=N: N bytes, chunked (default 1 MiB)"),
    ("/" + REDIRECT, "?to=PATH: 302 to PATH (default /simpleresource)"),
    ("/" + STATUS, "?code=N: answers status N (503 and 429 with Retry-After: 1)"),
    (f"/{MATRIX}/<run>/<scenario>", "200, and the request is recorded as evidence"),
    (f"/{REQUESTS}", "?prefix=/matrix/<run>/: the recorded requests, JSON"),
)


def _arg(request, name: str, default: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode() if values else default


def _header(request, name: bytes) -> str | None:
    values = request.requestHeaders.getRawHeaders(name)
    return ", ".join(v.decode("latin-1") for v in values) if values else None


def _json(request, body: object) -> bytes:
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, sort_keys=True).encode() + b"\n"


class ErrorResource(resource.Resource):
    """A fixed error status. Local because `twisted.web.pages` is newer than
    Debian's Twisted 22.4 and `resource.ErrorPage` warns on current Twisted."""

    isLeaf = True

    def __init__(self, code: int, brief: str):
        super().__init__()
        self.code, self.brief = code, brief

    def render(self, request):
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return (f"<html><head><title>{self.code} - {self.brief}</title></head>"
                f"<body><h1>{self.brief}</h1></body></html>\n").encode()


NOT_FOUND = ErrorResource(404, "No Such Resource")


class SimpleResource(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return SAMPLE_RESOURCE


class HeadersResource(resource.Resource):
    """Echoes the request as the origin saw it, as JSON: proves what a proxy forwarded
    (e.g. that `Proxy-Authorization` never reaches the origin)."""

    isLeaf = True

    def render(self, request):
        headers: dict[str, list[str]] = {}
        for name, values in request.requestHeaders.getAllRawHeaders():
            headers[name.decode("latin-1").lower()] = [v.decode("latin-1") for v in values]
        return _json(request, {"method": request.method.decode(),
                               "uri": request.uri.decode("latin-1"), "headers": headers,
                               "client": request.getClientAddress().host})


class SlowResource(resource.Resource):
    """`/slow?seconds=N`: answers after N seconds (at most 30); the timer is
    cancelled if the client goes away, so no delayed call outlives the request."""

    isLeaf = True

    def __init__(self, reactor):
        super().__init__()
        self.reactor = reactor

    def render_GET(self, request):
        seconds = min(float(_arg(request, "seconds", "1")), MAX_SLOW_SECONDS)

        def answer():
            request.setHeader(b"content-type", b"text/plain")
            request.write(f"slept {seconds}\n".encode())
            request.finish()

        call = self.reactor.callLater(seconds, answer)
        request.notifyFinish().addErrback(lambda _: call.active() and call.cancel())
        return server.NOT_DONE_YET


class LargeResource(resource.Resource):
    """`/large?bytes=N`: N bytes (default 1 MiB) sent with chunked encoding."""

    isLeaf = True

    def render_GET(self, request):
        size = min(int(_arg(request, "bytes", str(1024 * 1024))), MAX_LARGE_BYTES)
        request.setHeader(b"content-type", b"application/octet-stream")
        block = b"0123456789abcdef" * (_CHUNK // 16)
        sent = 0
        while sent < size:
            piece = block[: min(_CHUNK, size - sent)]
            request.write(piece)
            sent += len(piece)
        request.finish()
        return server.NOT_DONE_YET


class RedirectResource(resource.Resource):
    """`/redirect?to=PATH`: 302 to PATH (default /simpleresource)."""

    isLeaf = True

    def render_GET(self, request):
        return util.redirectTo(_arg(request, "to", "/" + SIMPLERESOURCE).encode(), request)


class StatusResource(resource.Resource):
    """`/status?code=N`: answers N, so a client's handling of e.g. 503 can be tested."""

    isLeaf = True

    def render(self, request):
        try:
            code = int(_arg(request, "code", "200"))
        except ValueError:
            code = 0
        if not 200 <= code <= 599:
            code = 400
        request.setResponseCode(code)
        if code in (429, 503):
            request.setHeader(b"retry-after", b"1")
        request.setHeader(b"content-type", b"text/plain")
        request.setHeader(b"cache-control", b"no-store")
        return f"status {code}\n".encode()


class RequestLog:
    """The bounded record of `/matrix/` requests (see the module docstring)."""

    def __init__(self, reactor, limit: int = MAX_RECORDS):
        self.reactor = reactor
        self.records: deque[dict] = deque(maxlen=limit)

    def record(self, request) -> dict:
        entry = {
            "path": request.path.decode("latin-1"),
            "method": request.method.decode("latin-1"),
            "time": self.reactor.seconds(),
            "client": request.getClientAddress().host,
            "scheme": "https" if request.isSecure() else "http",
            "host": _header(request, b"host"),
            "proxy_authorization": request.requestHeaders.hasHeader(b"proxy-authorization"),
            "via": _header(request, b"via"),
            "x_forwarded_for": _header(request, b"x-forwarded-for"),
        }
        self.records.append(entry)
        return entry

    def query(self, prefix: str = "") -> list[dict]:
        return [dict(r) for r in self.records if r["path"].startswith(prefix)]


class MatrixResource(resource.Resource):
    """`/matrix/<run>/<scenario>[/...]`: 200, and the request recorded; shorter paths 404."""

    isLeaf = True

    def __init__(self, log: RequestLog):
        super().__init__()
        self.log = log

    def render(self, request):
        if len(request.postpath) < 2 or not all(request.postpath[:2]):
            return NOT_FOUND.render(request)
        self.log.record(request)
        run, scenario = (p.decode("latin-1") for p in request.postpath[:2])
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return f"lab matrix {run}/{scenario} ok\n".encode()


class RequestsResource(resource.Resource):
    """`/_lab/requests?prefix=P`: the recorded requests whose path starts with P."""

    isLeaf = True

    def __init__(self, log: RequestLog):
        super().__init__()
        self.log = log

    def render_GET(self, request):
        return _json(request, {"requests": self.log.query(_arg(request, "prefix", ""))})


class Folder(resource.Resource):
    """Children by name; anything else, itself included, is our 404 (not
    Twisted's default, which warns on current Twisted)."""

    def getChild(self, path, request):
        return NOT_FOUND

    def render(self, request):
        return NOT_FOUND.render(request)


class IndexResource(resource.Resource):
    """`/`: what is here, so the lab's advertised `web.url` answers 200, not 404."""

    def getChild(self, path, request):
        if path == b"" and not request.postpath:
            return self        # "/" itself (Resource's default makes it a 404)
        return NOT_FOUND

    def render_GET(self, request):
        request.setHeader(b"vary", b"accept")
        if b"application/json" in (request.getHeader(b"accept") or b""):
            return _json(request, {"resources": [{"path": p, "description": d}
                                                 for p, d in INDEX]})
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a>: '
                        f"{html.escape(d)}</li>\n" for p, d in INDEX)
        return (f"<!DOCTYPE html>\n<html><head><title>lab mock web server</title></head>"
                f"<body><h1>lab mock web server</h1>\n<ul>\n{items}</ul></body></html>\n"
                ).encode()


def build_root(reactor=None, log: RequestLog | None = None) -> resource.Resource:
    """The site's root; `reactor` times `/slow` and the records of `log`."""
    from lab.tidy import global_reactor

    reactor = reactor or global_reactor()
    log = log if log is not None else RequestLog(reactor)
    root = IndexResource()
    lab = Folder()
    for name, child in ((SIMPLERESOURCE, SimpleResource()),
                        (THROWERROR, NOT_FOUND),
                        (UNAUTHORIZED, ErrorResource(401, "Unauthorized")),
                        (HEADERS, HeadersResource()), (SLOW, SlowResource(reactor)),
                        (LARGE, LargeResource()), (REDIRECT, RedirectResource()),
                        (STATUS, StatusResource()), (MATRIX, MatrixResource(log)),
                        ("_lab", lab)):
        root.putChild(name.encode(), child)
    lab.putChild(REQUESTS.split("/")[1].encode(), RequestsResource(log))
    return root


class NotListeningError(RuntimeError):
    """A URL was asked of a server that is not (or no longer) listening; when
    listening failed, `__cause__` is why (e.g. `CannotListenError`)."""


class MockWebServer:
    """The mock site over HTTP and HTTPS; starts listening when constructed.

    `interface` is where to bind: 127.0.0.1 for tests that talk to it
    directly, the lab network's gateway (see `lab.stack`) for tests that fetch
    it THROUGH the lab's proxy. `host` is the name to put in URLs (default:
    the interface). `certificate` (a `lab.tls.SelfSigned`, maybe with a chain)
    is what HTTPS presents; by default one is made for `host`, `localhost` and
    the interface. `reactor` defaults to the global one.

    `listening()` (or the classmethod `start()`) fires with the server once
    both listeners are up, or fails with the `CannotListenError` of the first
    that could not listen, after closing the other: nothing is left listening.
    """

    def __init__(self, interface: str = "127.0.0.1", host: str | None = None,
                 port: int = 0, https_port: int = 0, certificate=None, reactor=None,
                 max_records: int = MAX_RECORDS):
        from lab.tidy import global_reactor
        from lab.tls import make_self_signed

        self.reactor = reactor or global_reactor()
        self.host = host or interface
        names = tuple(dict.fromkeys(n for n in (self.host, "localhost") if not _is_ip(n)))
        addresses = tuple(dict.fromkeys(a for a in (interface, self.host, "127.0.0.1")
                                        if _is_ip(a) and a != "0.0.0.0"))
        self.certificate = certificate or make_self_signed(names or ("localhost",), addresses)
        self.requests = RequestLog(self.reactor, max_records)
        self.site = server.Site(build_root(self.reactor, self.requests))
        self.site.timeOut = None   # stop() closes keep-alive connections, not a timer
        self._http = TidyTCPServer(interface, port, reactor=self.reactor)
        self._https = TidyTLSServer(self.certificate, interface, https_port,
                                    reactor=self.reactor)
        self._failure = None
        self._stopped = False
        attempts = [self._http.listen_server(lambda: self.site),
                    self._https.listen_server(lambda: self.site)]
        # Never fails, so no "Unhandled error in Deferred": the outcome is kept instead.
        self._settled = defer.DeferredList(attempts, consumeErrors=True)
        self._settled.addCallback(self._check_listening)

    @classmethod
    def start(cls, *args, **kwargs) -> defer.Deferred:
        """`MockWebServer(*args, **kwargs).listening()`: fires with the listening server."""
        return cls(*args, **kwargs).listening()

    def _check_listening(self, results) -> defer.Deferred | None:
        failures = [outcome for ok, outcome in results if not ok]
        if not failures:
            return None
        self._failure = failures[0]
        return self._close().addErrback(lambda _: None)

    def _when_settled(self) -> defer.Deferred:
        """A fresh Deferred firing (with None) once listening has succeeded or failed
        and, on failure, the other listener is closed."""
        waiter: defer.Deferred = defer.Deferred()

        def relay(result):
            waiter.callback(None)
            return result

        self._settled.addCallback(relay)
        return waiter

    def listening(self) -> defer.Deferred:
        """Fires with this server once both listeners are up; fails with the
        listen error (nothing left listening) if either could not listen."""
        return self._when_settled().addCallback(lambda _: self._failure or self)

    def _port(self, tidy: TidyTCPServer) -> int:
        if self._failure is not None:
            raise NotListeningError(f"mock web server could not listen: "
                                    f"{self._failure.getErrorMessage()}") from self._failure.value
        if self._stopped:
            raise NotListeningError("mock web server was stopped")
        if tidy.listener is None:
            raise NotListeningError("mock web server is not listening yet: wait for listening()")
        return tidy.listener.getHost().port

    def get_url(self) -> str:
        return f"http://{self.host}:{self._port(self._http)}/"

    def get_https_url(self) -> str:
        return f"https://{self.host}:{self._port(self._https)}/"

    @property
    def ca_cert_pem(self) -> bytes:
        """The PEM a client must trust for `get_https_url()` (the CA of the chain,
        or the certificate itself when self-signed)."""
        return self.certificate.ca_pem

    def _close(self) -> defer.Deferred:
        return defer.gatherResults([self._http.clean_up(), self._https.clean_up()],
                                   consumeErrors=True).addCallback(lambda _: None)

    def stop(self) -> defer.Deferred:
        """Close both listeners and every connection; fires when all are gone
        (also after a failed listen, when there is less to close)."""
        self._stopped = True
        return self._when_settled().addCallback(lambda _: self._close())


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Serve the mock site until killed (the `web` container's command); exit 1
    with the reason when a port cannot be listened on."""
    from twisted.internet import reactor
    from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

    from lab.tls import SelfSigned

    parser = argparse.ArgumentParser(prog="python3 -m lab.mockweb")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--tls-pem", help="key, certificate, then any CA certificates, PEM")
    args = parser.parse_args(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    log = Logger("lab.mockweb")
    certificate = None
    if args.tls_pem:
        certificate = SelfSigned.from_combined_pem(Path(args.tls_pem).read_bytes())
    exit_code = [0]

    def failed(failure) -> None:
        log.error("cannot serve: {reason}", reason=failure.getErrorMessage())
        exit_code[0] = 1
        reactor.callWhenRunning(reactor.stop)

    def serving(web: MockWebServer) -> None:
        log.info("serving {http} and {https}", http=web.get_url(), https=web.get_https_url())

    MockWebServer(args.interface, port=args.port, https_port=args.https_port,
                  certificate=certificate).listening().addCallbacks(serving, failed)
    reactor.run()
    return exit_code[0]


if __name__ == "__main__":
    sys.exit(main())
