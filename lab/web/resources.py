"""The pages of the mock web server (`lab.web.server`): one Twisted resource per path.

Plain `twisted.web.resource`, nothing newer than Debian 12's Twisted 22.4: this
module is copied into the `web` image (see images/web/Dockerfile). The
request-recording `/matrix/` and `/_lab/requests` resources are in
`lab.web.records`; `lab.web.server.build_root` puts them all in one tree.

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
from collections.abc import Sequence

from twisted.web import resource, server, util

from lab.web.content import SAMPLE_RESOURCE, SIMPLERESOURCE  # noqa: F401 - re-exported
from lab.web.faults import (  # noqa: F401 - re-exported: the site's names in one place
    BAD_CHUNKING,
    MAX_RESET_AFTER,
    ORIGIN_FAULT_INDEX,
    ORIGIN_FAULTS,
    RESET,
    SLOW_HEADERS,
    STALL,
    TRUNCATE,
    TRUNCATE_BODY,
    origin_fault_resources,
)
from lab.web.page import Page
from lab.web.query import BadQuery, bad_query, number_arg, query_arg

#: The seed's resource names and body (SIMPLERESOURCE, SAMPLE_RESOURCE: `lab.web.content`),
#: kept so ported tests still match.
THROWERROR = "throwerror"
UNAUTHORIZED = "unauthorized"
HEADERS = "headers"
SLOW = "slow"
LARGE = "large"
REDIRECT = "redirect"
STATUS = "status"
MATRIX = "matrix"
REQUESTS = "_lab/requests"
#: The origin-fault resources' names, in the order `/` lists them.
PROXY_PAC = "proxy.pac"
WPAD_DAT = "wpad.dat"
PAC_CONTENT_TYPE = b"application/x-ns-proxy-autoconfig"

MAX_SLOW_SECONDS = 30.0
#: `/large` streams its body (a block whenever the connection wants more), so a big
#: one costs the origin no memory; the bound only keeps a typo from running for hours.
MAX_LARGE_BYTES = 1024 * 1024 * 1024
_CHUNK = 64 * 1024

#: What `/` lists, in order: (path, description).
INDEX = (
    ("/" + SIMPLERESOURCE, "the seed's sample page (200, HTML)"),
    ("/" + THROWERROR, "always 404"),
    ("/" + UNAUTHORIZED, "always 401"),
    ("/" + HEADERS, "the request as this origin saw it (method, headers, client), JSON"),
    ("/" + SLOW, f"?seconds=N: answers after N seconds (default 1, at most {MAX_SLOW_SECONDS:g})"),
    ("/" + LARGE, f"?bytes=N: N bytes, chunked (default 1 MiB, at most "
                  f"{MAX_LARGE_BYTES // 2**30} GiB)"),
    ("/" + REDIRECT, "?to=PATH: 302 to PATH (default /simpleresource)"),
    ("/" + STATUS, "?code=N: answers status N (503 and 429 with Retry-After: 1)"),
    *ORIGIN_FAULT_INDEX,
    (f"/{MATRIX}/<run>/<scenario>", "200, and the request is recorded as evidence"),
    (f"/{REQUESTS}", "?prefix=/matrix/<run>/: the recorded requests, JSON"),
    ("/" + PROXY_PAC, "the lab's PAC file, for this client's view (when configured)"),
    ("/" + WPAD_DAT, "the same PAC file, where WPAD looks for it"),
)


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


class SimpleResource(Page):
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


class SlowResource(Page):
    """`/slow?seconds=N`: answers after N seconds (at most 30); the timer is
    cancelled if the client goes away, so no delayed call outlives the request."""

    isLeaf = True

    def __init__(self, reactor):
        super().__init__()
        self.reactor = reactor

    def render_GET(self, request: server.Request) -> int:
        seconds = number_arg(request, "seconds", 1.0, MAX_SLOW_SECONDS)

        def answer() -> None:
            request.setHeader(b"content-type", b"text/plain")
            request.write(f"slept {seconds}\n".encode())
            request.finish()

        call = self.reactor.callLater(seconds, answer)
        request.notifyFinish().addErrback(lambda _: call.active() and call.cancel())
        return server.NOT_DONE_YET


class _Blocks:
    """A pull producer writing `size` bytes to `request`, one block each time the
    connection asks for more, then finishing it: memory stays at one block however
    large the body or however many at once."""

    _BLOCK = b"0123456789abcdef" * (_CHUNK // 16)

    def __init__(self, request: server.Request, size: int):
        self.request, self.left = request, size

    def resumeProducing(self) -> None:
        if self.left > 0:
            piece = self._BLOCK[: min(_CHUNK, self.left)]
            self.left -= len(piece)
            self.request.write(piece)
        if self.left == 0:
            self.left = -1
            self.request.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:      # the client went away
        self.left = -1

    def pauseProducing(self) -> None:     # a pull producer is never paused
        pass


class LargeResource(Page):
    """`/large?bytes=N`: N bytes (default 1 MiB, at most 1 GiB), chunked and streamed."""

    isLeaf = True

    def render_GET(self, request: server.Request) -> int:
        size = int(number_arg(request, "bytes", 1024 * 1024, MAX_LARGE_BYTES, integer=True))
        request.setHeader(b"content-type", b"application/octet-stream")
        request.registerProducer(_Blocks(request, size), False)
        return server.NOT_DONE_YET


class RedirectResource(Page):
    """`/redirect?to=PATH`: 302 to PATH (default /simpleresource)."""

    isLeaf = True

    def render_GET(self, request: server.Request) -> bytes:
        return util.redirectTo(query_arg(request, "to", "/" + SIMPLERESOURCE).encode(), request)


class StatusResource(resource.Resource):
    """`/status?code=N`: answers N (200 to 599, whatever the method), so a client's
    handling of e.g. 503 can be tested; any other code is a 400 saying so."""

    isLeaf = True

    def render(self, request: server.Request) -> bytes:
        try:
            code = int(number_arg(request, "code", 200, 599, lower=200, integer=True))
        except BadQuery as error:
            return bad_query(request, error)
        request.setResponseCode(code)
        if code in (429, 503):
            request.setHeader(b"retry-after", b"1")
        request.setHeader(b"content-type", b"text/plain")
        request.setHeader(b"cache-control", b"no-store")
        return f"status {code}\n".encode()


class Folder(resource.Resource):
    """Children by name; anything else, itself included, is our 404 (not
    Twisted's default, which warns on current Twisted)."""

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return NOT_FOUND

    def render(self, request: server.Request) -> bytes:
        return NOT_FOUND.render(request)


class IndexResource(Page):
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


class PacResource(Page):
    """`/proxy.pac` and `/wpad.dat`: a PAC file whose addresses work for the client
    that asks. A client inside the lab network (an address in `lab_subnet` other
    than the `gateway` addresses: docker's gateway and the fault layer, through
    which clients on the host arrive at a published port) gets `lab_text`; any
    other client, `host_text`."""

    isLeaf = True

    def __init__(self, host_text: str, lab_text: str | None = None,
                 lab_subnet: str | None = None, gateway: str | Sequence[str] | None = None):
        super().__init__()
        if lab_text is not None and lab_subnet is None:
            raise ValueError("a lab view of the PAC needs the lab subnet to pick it by")
        self.host_text, self.lab_text = host_text, lab_text
        self.subnet = ipaddress.ip_network(lab_subnet) if lab_subnet else None
        if isinstance(gateway, str):
            gateway = (gateway,)
        self.gateways = frozenset(ipaddress.ip_address(g) for g in gateway) if gateway else (
            frozenset({self.subnet.network_address + 1}) if self.subnet else frozenset())

    def text_for(self, client: str) -> str:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return self.host_text              # a UNIX socket or the like: not the lab
        if self.lab_text is not None and address in self.subnet and \
                address not in self.gateways:
            return self.lab_text
        return self.host_text

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", PAC_CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-cache")
        return self.text_for(request.getClientAddress().host).encode()
