"""The pages of the mock web server (`lab.mockweb`): one Twisted resource per path.

Plain `twisted.web.resource`, nothing newer than Debian 12's Twisted 22.4: this
module is copied into the `web` image (see images/web/Dockerfile). The
request-recording `/matrix/` and `/_lab/requests` resources are in
`lab.webrecords`; `lab.mockweb.build_root` puts them all in one tree.

- `/` lists what is here: HTML, or JSON with `Accept: application/json`.
- `/proxy.pac` and `/wpad.dat` (when given a PAC text, `PacResource`): the PAC
  file, in the view that works from the client's address.
- `/simpleresource` (the seed's body), `/throwerror` (404), `/unauthorized` (401),
  `/headers` (the request as the origin saw it, JSON), `/slow?seconds=N`,
  `/large?bytes=N` (chunked), `/redirect?to=PATH`, `/status?code=N`
  (that status; 503 and 429 add `Retry-After: 1`).
- Origin faults, the HTTP-aware misbehaviour a TCP fault proxy cannot fake
  (each written straight to the connection, bypassing `server.Request`, so the
  bytes on the wire are exactly the fault; each closes its connection when
  done, and every timer is cancelled when the client goes away):
  `/reset?after=N` (N body bytes of a longer promised body, then a TCP reset),
  `/truncate` (Content-Length larger than the body, then a clean close),
  `/stall` (headers, then nothing), `/slow-headers?seconds=N` (the header block
  trickles in over N seconds), `/bad-chunking` (a malformed chunk size).
"""

from __future__ import annotations

import html
import ipaddress
import json
import math
import socket

from twisted.web import resource, server, util

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
RESET = "reset"
TRUNCATE = "truncate"
STALL = "stall"
SLOW_HEADERS = "slow-headers"
BAD_CHUNKING = "bad-chunking"
#: The origin-fault resources' names, in the order `/` lists them.
ORIGIN_FAULTS = (RESET, TRUNCATE, STALL, SLOW_HEADERS, BAD_CHUNKING)
PROXY_PAC = "proxy.pac"
WPAD_DAT = "wpad.dat"
PAC_CONTENT_TYPE = b"application/x-ns-proxy-autoconfig"

MAX_SLOW_SECONDS = 30.0
MAX_LARGE_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
#: `/reset` sends at most this many body bytes before the reset (so they fit
#: the socket's send buffer and really leave before the reset does).
MAX_RESET_AFTER = 16 * 1024
#: A `/stall` ends by itself after this long (default and upper bound of
#: `?seconds=`), should its client never go away.
MAX_STALL_SECONDS = 300.0
MAX_SLOW_HEADERS_SECONDS = 30.0
#: `/slow-headers` sends one header line per this many seconds.
SLOW_HEADERS_STEP = 0.5
#: The body `/truncate` sends, and how much more it promises.
TRUNCATE_BODY = b"this body is cut short\n"
TRUNCATE_MISSING = 1000

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
    ("/" + RESET, f"?after=N: promises more, sends N body bytes (default 100, at most "
                  f"{MAX_RESET_AFTER}), then resets the connection (TCP RST)"),
    ("/" + TRUNCATE, f"Content-Length {TRUNCATE_MISSING} more than the body, then closes"),
    ("/" + STALL, f"?seconds=N: headers, then nothing until the client goes away "
                  f"(or N s, default and at most {MAX_STALL_SECONDS:g}, then closes)"),
    ("/" + SLOW_HEADERS, f"?seconds=N: the header block trickles in over N s (default 3, "
                         f"at most {MAX_SLOW_HEADERS_SECONDS:g}), then a 200"),
    ("/" + BAD_CHUNKING, "chunked, with a malformed chunk size after the first chunk"),
    (f"/{MATRIX}/<run>/<scenario>", "200, and the request is recorded as evidence"),
    (f"/{REQUESTS}", "?prefix=/matrix/<run>/: the recorded requests, JSON"),
    ("/" + PROXY_PAC, "the lab's PAC file, for this client's view (when configured)"),
    ("/" + WPAD_DAT, "the same PAC file, where WPAD looks for it"),
)


def query_arg(request: server.Request, name: str, default: str) -> str:
    """The first value of query argument `name`, else `default`."""
    values = request.args.get(name.encode())
    return values[0].decode() if values else default


def json_response(request: server.Request, body: object) -> bytes:
    """`body` as the (uncacheable) JSON answer to `request`."""
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

    def render(self, request: server.Request) -> bytes:
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return (f"<html><head><title>{self.code} - {self.brief}</title></head>"
                f"<body><h1>{self.brief}</h1></body></html>\n").encode()


NOT_FOUND = ErrorResource(404, "No Such Resource")


class SimpleResource(resource.Resource):
    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return SAMPLE_RESOURCE


class HeadersResource(resource.Resource):
    """Echoes the request as the origin saw it, as JSON: proves what a proxy forwarded
    (e.g. that `Proxy-Authorization` never reaches the origin)."""

    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        headers: dict[str, list[str]] = {}
        for name, values in request.requestHeaders.getAllRawHeaders():
            headers[name.decode("latin-1").lower()] = [v.decode("latin-1") for v in values]
        return json_response(request, {"method": request.method.decode(),
                                       "uri": request.uri.decode("latin-1"),
                                       "headers": headers,
                                       "client": request.getClientAddress().host})


class SlowResource(resource.Resource):
    """`/slow?seconds=N`: answers after N seconds (at most 30); the timer is
    cancelled if the client goes away, so no delayed call outlives the request."""

    isLeaf = True

    def __init__(self, reactor):
        super().__init__()
        self.reactor = reactor

    def render_GET(self, request: server.Request) -> int:
        seconds = min(float(query_arg(request, "seconds", "1")), MAX_SLOW_SECONDS)

        def answer() -> None:
            request.setHeader(b"content-type", b"text/plain")
            request.write(f"slept {seconds}\n".encode())
            request.finish()

        call = self.reactor.callLater(seconds, answer)
        request.notifyFinish().addErrback(lambda _: call.active() and call.cancel())
        return server.NOT_DONE_YET


class LargeResource(resource.Resource):
    """`/large?bytes=N`: N bytes (default 1 MiB) sent with chunked encoding."""

    isLeaf = True

    def render_GET(self, request: server.Request) -> int:
        size = min(int(query_arg(request, "bytes", str(1024 * 1024))), MAX_LARGE_BYTES)
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

    def render_GET(self, request: server.Request) -> bytes:
        return util.redirectTo(query_arg(request, "to", "/" + SIMPLERESOURCE).encode(), request)


class StatusResource(resource.Resource):
    """`/status?code=N`: answers N, so a client's handling of e.g. 503 can be tested."""

    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        try:
            code = int(query_arg(request, "code", "200"))
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


def _number(request: server.Request, name: str, default: float, upper: float) -> float:
    """Query argument `name` as a number in [0, upper]; `default` when absent or bad."""
    try:
        value = float(query_arg(request, name, str(default)))
    except ValueError:
        value = default
    return min(max(value, 0.0), upper) if value == value else default   # NaN: default


def _header_block(*headers: bytes) -> bytes:
    """Header lines and the blank line that ends a head; always `Connection:
    close`, because every origin fault ends its connection and a client must
    not reuse it."""
    lines = [*headers, b"Cache-Control: no-store", b"Connection: close"]
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def _head(status: bytes, *headers: bytes) -> bytes:
    """A raw HTTP/1.1 response head (see `_header_block`)."""
    return b"HTTP/1.1 " + status + b"\r\n" + _header_block(*headers)


class _OriginFault(resource.Resource):
    """Base of the origin faults: they write raw bytes to the connection (the
    point is bytes `server.Request` would never produce), so `render` returns
    NOT_DONE_YET and the request only ends when the connection does. Timers go
    through `later`, which cancels them when the connection is lost, so no
    delayed call outlives its request."""

    isLeaf = True

    def __init__(self, reactor):
        super().__init__()
        self.reactor = reactor

    def later(self, request: server.Request, seconds: float, what, *args) -> None:
        call = self.reactor.callLater(seconds, what, *args)
        request.notifyFinish().addErrback(lambda _: call.active() and call.cancel())


class ResetResource(_OriginFault):
    """`/reset?after=N`: a 200 promising N + 1000 bytes, N of them, then a TCP
    reset, as from an origin that crashed mid-body. The bytes go straight to the
    socket (not Twisted's write buffer, which an abort would discard) so they
    leave before the reset; on TLS, where there is no plain socket, the data
    goes through TLS and the connection is aborted once it has been handed on."""

    def render_GET(self, request: server.Request) -> int:
        after = int(_number(request, "after", 100, MAX_RESET_AFTER))
        data = _head(b"200 OK", b"Content-Type: application/octet-stream",
                     b"Content-Length: %d" % (after + 1000)) + b"x" * after
        transport = request.transport
        handle = transport.getHandle()
        if isinstance(handle, socket.socket):
            sent = 0
            try:
                while sent < len(data):
                    sent += handle.send(data[sent:])
            except OSError:
                pass          # the client is gone or the buffer is full: reset now
            transport.abortConnection()      # Twisted sets SO_LINGER 0: an RST
        else:
            transport.write(data)
            self.later(request, 0.1, transport.abortConnection)
        return server.NOT_DONE_YET


class TruncateResource(_OriginFault):
    """`/truncate`: Content-Length promises more than the body, and the origin
    closes cleanly (FIN) after the body: a short read, not an error on the wire."""

    def render_GET(self, request: server.Request) -> int:
        length = len(TRUNCATE_BODY) + TRUNCATE_MISSING
        request.transport.write(_head(b"200 OK", b"Content-Type: text/plain",
                                      b"Content-Length: %d" % length) + TRUNCATE_BODY)
        request.transport.loseConnection()
        return server.NOT_DONE_YET


class StallResource(_OriginFault):
    """`/stall?seconds=N`: a 200 head promising a body, then nothing; it ends when
    the client goes away, or after N seconds (default and at most 300) with a
    close, so a client that never gives up cannot hold it forever."""

    def render_GET(self, request: server.Request) -> int:
        seconds = _number(request, "seconds", MAX_STALL_SECONDS, MAX_STALL_SECONDS)
        request.transport.write(_head(b"200 OK", b"Content-Type: text/plain",
                                      b"Content-Length: 1000"))
        self.later(request, seconds, request.transport.loseConnection)
        return server.NOT_DONE_YET


class SlowHeadersResource(_OriginFault):
    """`/slow-headers?seconds=N`: the status line at once, then one header line
    every half second until N seconds (default 3, at most 30) have passed, then
    the end of the head and a short body: a client's time-to-headers timeout
    fires here while a connect or first-byte timeout does not."""

    def render_GET(self, request: server.Request) -> int:
        seconds = _number(request, "seconds", 3.0, MAX_SLOW_HEADERS_SECONDS)
        body = b"slow headers done\n"
        request.transport.write(b"HTTP/1.1 200 OK\r\n")
        steps = math.ceil(seconds / SLOW_HEADERS_STEP)

        def trickle(done: int) -> None:      # runs at min(done * step, seconds)
            if done >= steps:
                request.transport.write(_header_block(b"Content-Type: text/plain",
                                                      b"Content-Length: %d" % len(body))
                                        + body)
                request.transport.loseConnection()
                return
            request.transport.write(b"X-Lab-Slow-Header: %d\r\n" % done)
            self.later(request, min(SLOW_HEADERS_STEP, seconds - done * SLOW_HEADERS_STEP),
                       trickle, done + 1)

        trickle(0)
        return server.NOT_DONE_YET


class BadChunkingResource(_OriginFault):
    """`/bad-chunking`: `Transfer-Encoding: chunked` whose first chunk is fine and
    whose second chunk size is not hexadecimal, then a close: a framing error,
    which a client or proxy must treat as a broken transfer, not as data."""

    def render_GET(self, request: server.Request) -> int:
        request.transport.write(_head(b"200 OK", b"Content-Type: text/plain",
                                      b"Transfer-Encoding: chunked")
                                + b"6\r\nhello\n\r\nzz\r\nnot a chunk\r\n0\r\n\r\n")
        request.transport.loseConnection()
        return server.NOT_DONE_YET


def origin_fault_resources(reactor) -> dict[str, resource.Resource]:
    """The origin-fault resources by name, timed by `reactor`."""
    return {RESET: ResetResource(reactor), TRUNCATE: TruncateResource(reactor),
            STALL: StallResource(reactor), SLOW_HEADERS: SlowHeadersResource(reactor),
            BAD_CHUNKING: BadChunkingResource(reactor)}


class Folder(resource.Resource):
    """Children by name; anything else, itself included, is our 404 (not
    Twisted's default, which warns on current Twisted)."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return NOT_FOUND

    def render(self, request: server.Request) -> bytes:
        return NOT_FOUND.render(request)


class IndexResource(resource.Resource):
    """`/`: what is here, so the lab's advertised `web.url` answers 200, not 404."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        if path == b"" and not request.postpath:
            return self        # "/" itself (Resource's default makes it a 404)
        return NOT_FOUND

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"vary", b"accept")
        if b"application/json" in (request.getHeader(b"accept") or b""):
            return json_response(request, {"resources": [{"path": p, "description": d}
                                                         for p, d in INDEX]})
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a>: '
                        f"{html.escape(d)}</li>\n" for p, d in INDEX)
        return (f"<!DOCTYPE html>\n<html><head><title>lab mock web server</title></head>"
                f"<body><h1>lab mock web server</h1>\n<ul>\n{items}</ul></body></html>\n"
                ).encode()


class PacResource(resource.Resource):
    """`/proxy.pac` and `/wpad.dat`: a PAC file whose addresses work for the client
    that asks. A client inside the lab network (an address in `lab_subnet` other
    than `gateway`, docker's address for connections through a published port)
    gets `lab_text`; any other client, `host_text`."""

    isLeaf = True

    def __init__(self, host_text: str, lab_text: str | None = None,
                 lab_subnet: str | None = None, gateway: str | None = None):
        super().__init__()
        if lab_text is not None and lab_subnet is None:
            raise ValueError("a lab view of the PAC needs the lab subnet to pick it by")
        self.host_text, self.lab_text = host_text, lab_text
        self.subnet = ipaddress.ip_network(lab_subnet) if lab_subnet else None
        self.gateway = ipaddress.ip_address(gateway) if gateway else (
            self.subnet.network_address + 1 if self.subnet else None)

    def text_for(self, client: str) -> str:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return self.host_text              # a UNIX socket or the like: not the lab
        if self.lab_text is not None and address in self.subnet and address != self.gateway:
            return self.lab_text
        return self.host_text

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", PAC_CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-cache")
        return self.text_for(request.getClientAddress().host).encode()
