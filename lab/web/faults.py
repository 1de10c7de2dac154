"""Origin faults: what a misbehaving web server does to its clients, at the byte level
(resets mid-body, short bodies, stalls, trickling headers, broken chunking), which a
TCP fault proxy cannot fake. Part of the mock web server (`lab.web.server` mounts them);
like it, this runs in the web container on Debian's Twisted 22.4 too.
"""

from __future__ import annotations

import math
import socket

from twisted.web import resource, server

from lab.web.page import Page
from lab.web.query import number_arg

RESET = "reset"
TRUNCATE = "truncate"
STALL = "stall"
SLOW_HEADERS = "slow-headers"
BAD_CHUNKING = "bad-chunking"
ORIGIN_FAULTS = (RESET, TRUNCATE, STALL, SLOW_HEADERS, BAD_CHUNKING)

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

#: What `/` lists for them: (path, description).
ORIGIN_FAULT_INDEX = (
    ("/" + RESET, f"?after=N: promises more, sends N body bytes (default 100, at most "
                  f"{MAX_RESET_AFTER}), then resets the connection (TCP RST)"),
    ("/" + TRUNCATE, f"Content-Length {TRUNCATE_MISSING} more than the body, then closes"),
    ("/" + STALL, f"?seconds=N: headers, then nothing until the client goes away "
                  f"(or N s, default and at most {MAX_STALL_SECONDS:g}, then closes)"),
    ("/" + SLOW_HEADERS, f"?seconds=N: the header block trickles in over N s (default 3, "
                         f"at most {MAX_SLOW_HEADERS_SECONDS:g}), then a 200"),
    ("/" + BAD_CHUNKING, "chunked, with a malformed chunk size after the first chunk"),
)


def _header_block(*headers: bytes) -> bytes:
    """Header lines and the blank line that ends a head; always `Connection:
    close`, because every origin fault ends its connection and a client must
    not reuse it."""
    lines = [*headers, b"Cache-Control: no-store", b"Connection: close"]
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def _head(status: bytes, *headers: bytes) -> bytes:
    """A raw HTTP/1.1 response head (see `_header_block`)."""
    return b"HTTP/1.1 " + status + b"\r\n" + _header_block(*headers)


class _OriginFault(Page):
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
        after = int(number_arg(request, "after", 100, MAX_RESET_AFTER, integer=True))
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
        seconds = number_arg(request, "seconds", MAX_STALL_SECONDS, MAX_STALL_SECONDS)
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
        seconds = number_arg(request, "seconds", 3.0, MAX_SLOW_HEADERS_SECONDS)
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

