"""The mock web server's evidence of what reached the origin (`/matrix/`, `/_lab/requests`).

A test sends requests through a proxy to `/matrix/<run>/<scenario>`, then asks
the origin which of them arrived and how, instead of trusting the client's view.
Copied into the `web` image with `lab.web.server` (see images/web/Dockerfile).

- `/matrix/<run>/<scenario>[/...]`: answers 200 `lab matrix <run>/<scenario> ok`
  (or what git, npm or pip asked for: `lab.web.packages`) and records the request:
  `path`, `method`, `time` (reactor seconds since the epoch), `client` (the address
  the origin saw), `scheme` (http/https), `host`, `proxy_authorization` (whether
  that header reached the origin), `via` and `x_forwarded_for` (or null). The last
  `MAX_RECORDS` are kept, in memory. Answers are `no-store`, so a caching proxy never
  hides a request from the record.
- `/_lab/requests?prefix=/matrix/<run>/`: those records, oldest first, as
  `{"requests": [{...}, ...]}` (no prefix: all of them).
"""

from __future__ import annotations

from collections import deque

from twisted.web import resource, server

from lab.web import packages
from lab.web.page import Page
from lab.web.query import BadQuery, bad_query, number_arg, query_arg
from lab.web.resources import NOT_FOUND, json_response

#: How many /matrix/ requests the server remembers (oldest forgotten first).
MAX_RECORDS = 10_000


def _header(request: server.Request, name: bytes) -> str | None:
    values = request.requestHeaders.getRawHeaders(name)
    return ", ".join(v.decode("latin-1") for v in values) if values else None


class RequestLog:
    """The bounded record of `/matrix/` requests (see the module docstring)."""

    def __init__(self, reactor, limit: int = MAX_RECORDS):
        self.reactor = reactor
        self.records: deque[dict] = deque(maxlen=limit)

    def record(self, request: server.Request) -> dict:
        entry = {
            "path": request.path.decode("latin-1"),
            "method": request.method.decode("latin-1"),
            "time": self.reactor.seconds(),
            "client": request.getClientAddress().host,
            # the client's port: a tunnel's request is tied to squid's line by it
            "client_port": request.getClientAddress().port,
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


MAX_MATRIX_BYTES = 16 * 1024 * 1024


class MatrixResource(resource.Resource):
    """`/matrix/<run>/<scenario>[/...]`: 200, and the request recorded; shorter paths 404."""

    isLeaf = True

    def __init__(self, log: RequestLog):
        super().__init__()
        self.log = log

    def render(self, request: server.Request) -> bytes:
        if len(request.postpath) < 2 or not all(request.postpath[:2]):
            return NOT_FOUND.render(request)
        self.log.record(request)
        run, scenario = (p.decode("latin-1") for p in request.postpath[:2])
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        # what a scenario asks of the origin: an error status (`origin-503`), or a body
        # long enough to be cut in the middle (`proxy-reset-midstream`)
        # git, pip and npm append their own path to the URL they are given: in a scenario
        # that asks the origin something (`?status=503`) it lands in the value
        for key in (b"status", b"bytes"):
            if key in request.args:
                request.args[key] = [value.split(b"/", 1)[0] for value in request.args[key]]
        try:
            status = int(number_arg(request, "status", 200, 599, lower=200, integer=True))
            size = int(number_arg(request, "bytes", 0, MAX_MATRIX_BYTES, integer=True))
        except BadQuery as error:
            return bad_query(request, error)
        request.setResponseCode(status)
        if status in (429, 503):
            request.setHeader(b"retry-after", b"1")
        asked = packages.answer([p.decode("latin-1") for p in request.postpath[2:]])
        if asked is not None and status < 400:        # git, npm or pip asking
            request.setHeader(b"content-type", asked[0])
            return asked[1]
        line = f"lab matrix {run}/{scenario} {'ok' if status < 400 else status}\n"
        return line.encode() + b"x" * size


class RequestsResource(Page):
    """`/_lab/requests?prefix=P`: the recorded requests whose path starts with P."""

    isLeaf = True

    def __init__(self, log: RequestLog):
        super().__init__()
        self.log = log

    def render_GET(self, request: server.Request) -> bytes:
        prefix = query_arg(request, "prefix", "")
        return json_response(request, {"requests": self.log.query(prefix)})
