"""Toxiproxy's HTTP control API on twisted.web, so Toxiproxy's clients work unchanged.

Routes, status codes and JSON are Toxiproxy's (api.go): 201 for a new proxy,
200 for a new toxic, 204 for deletes and reset, `{"error": ..., "status": ...}`
for errors (400 bad input, 404 unknown proxy or toxic, 409 duplicates), a
`User-Agent: Mozilla/...` refused with 403 (Toxiproxy's guard against web pages
driving it). One route is the lab's own: `GET /connections?since=N`, the connection
events numbered after N (`lab.faults.journal`), as `{"events": [...], "first": F,
"last": M}` (F: the oldest still kept).
Changes that close sockets answer only once they are closed, so "down" is really down
when the response arrives.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from twisted.internet import defer
from twisted.python import log
from twisted.web import resource, server

from lab.faults.proxy import Proxies, admits, refused
from lab.faults.schema import BAD_REQUEST_BODY, MISSING_FIELD, ApiError, toxic_from_json

#: The Toxiproxy API version this speaks (GET /version).
VERSION = "2.12.0"

_NO_CONTENT = object()


#: The largest request body taken (Toxiproxy's are a few hundred bytes; a /populate of
#: a thousand proxies fits): a larger one is refused with 413 as it arrives, unstored.
MAX_BODY = 1024 * 1024


def _request_id() -> bytes:
    """Toxiproxy names every request (X-Toxiproxy-Request-Id); clients may log it."""
    return secrets.token_hex(10).encode()


def _body(request) -> Any:
    raw = request.content.read() if request.content is not None else b""
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError) as error:   # RecursionError: [[[[...]]]]
        raise BAD_REQUEST_BODY(str(error)[:200]) from None


def _since(request) -> int:
    """`?since=N`: a number of events already read (0 when absent)."""
    values = request.args.get(b"since", [b"0"])
    text = values[-1].decode("latin-1")
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise BAD_REQUEST_BODY(f"since must be a whole number, not {text[:20]!r}")
    return int(text)


def _object(request) -> dict:
    body = _body(request)
    if not isinstance(body, dict):
        raise BAD_REQUEST_BODY("expected a JSON object")
    return body


def _field(body: dict, name: str, kind: Any, default: Any) -> Any:
    value = body.get(name, default)
    if not isinstance(value, kind):
        wanted = [k.__name__ for k in getattr(kind, "__args__", (kind,)) if k is not type(None)]
        raise BAD_REQUEST_BODY(f"{name} must be a {' or '.join(wanted)}")
    return value


class ControlAPI(resource.Resource):
    """The whole API as one leaf resource, routed on (method, path segments)."""

    isLeaf = True

    def __init__(self, proxies: Proxies):
        super().__init__()
        self.proxies = proxies

    def render(self, request):
        request.setHeader(b"x-toxiproxy-request-id", _request_id())
        agent = request.getHeader(b"user-agent") or b""
        if agent.startswith(b"Mozilla/"):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"User agent not allowed\n"
        parts = [p.decode("utf-8", "replace") for p in request.postpath]
        request.notifyFinish().addErrback(lambda _: setattr(request, "_lab_gone", True))
        d = defer.maybeDeferred(self._route, request.method.decode(), parts, request)
        d.addCallbacks(lambda result: self._answer(request, result),
                       lambda failure: self._fail(request, failure))
        return server.NOT_DONE_YET

    def _route(self, method: str, parts: list[str], request):
        proxies = self.proxies
        match method, parts:
            case "GET", ["version"]:
                return 200, {"version": VERSION}
            case "GET", ["connections"]:
                since = _since(request)
                return 200, {"events": proxies.journal.since(since),
                             "first": proxies.journal.first, "last": proxies.journal.last}
            case "POST", ["reset"]:
                proxies.reset()
                return 204, _NO_CONTENT
            case "GET", ["proxies"]:
                return 200, {name: p.to_json() for name, p in proxies.proxies.items()}
            case "POST", ["proxies"]:
                return self._create(request)
            case "POST", ["populate"]:
                return self._populate(request)
            case "GET", ["proxies", name]:
                return 200, proxies.get(name).to_json()
            case ("POST" | "PATCH"), ["proxies", name]:
                return self._update(proxies.get(name), request)
            case "DELETE", ["proxies", name]:
                return proxies.delete(name).addCallback(lambda _: (204, _NO_CONTENT))
            case "GET", ["proxies", name, "toxics"]:
                return 200, [t.to_json() for t in proxies.get(name).toxic_list()]
            case "POST", ["proxies", name, "toxics"]:
                proxy = proxies.get(name)
                return 200, proxy.add_toxic(toxic_from_json(_body(request))).to_json()
            case "GET", ["proxies", name, "toxics", toxic]:
                return 200, proxies.get(name).get_toxic(toxic).to_json()
            case ("POST" | "PATCH"), ["proxies", name, "toxics", toxic]:
                return 200, proxies.get(name).update_toxic(toxic, _body(request)).to_json()
            case "DELETE", ["proxies", name, "toxics", toxic]:
                proxies.get(name).remove_toxic(toxic)
                return 204, _NO_CONTENT
        known = parts in (["version"], ["reset"], ["proxies"], ["populate"],
                          ["connections"]) or (
            parts[:1] == ["proxies"] and len(parts) in (2, 4)
            or parts[:1] == ["proxies"] and len(parts) == 3 and parts[2] == "toxics")
        if known:
            return 405, None
        return 404, None

    def _create(self, request):
        body = _object(request)
        for required in ("name", "upstream"):
            if not body.get(required):
                raise MISSING_FIELD(required)
        proxy = self.proxies.create(
            _field(body, "name", str, ""), _field(body, "listen", str, "127.0.0.1:0"),
            _field(body, "upstream", str, ""), _field(body, "enabled", bool, True))
        return 201, proxy.to_json()

    def _update(self, proxy, request):
        body = _object(request)
        d = proxy.update(_field(body, "listen", str, proxy.listen),
                         _field(body, "upstream", str, proxy.upstream),
                         _field(body, "enabled", bool, proxy.enabled))
        return d.addCallback(lambda _: (200, proxy.to_json()))

    def _populate(self, request):
        """Every entry checked before any is made, failures naming the entry as
        Toxiproxy's do (`missing required field: name at proxy 2`); an error while
        making them answers with that error and the proxies made before it."""
        specs = _body(request)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise BAD_REQUEST_BODY("expected a JSON array of proxies")
        for number, spec in enumerate(specs, 1):
            for required in ("name", "upstream"):
                if not isinstance(spec.get(required), str) or not spec[required]:
                    raise MISSING_FIELD(f"{required} at proxy {number}")
            _field(spec, "listen", str, "")
            _field(spec, "enabled", bool | None, None)

        def answer(outcome):
            made, error = outcome
            proxies = {"proxies": [p.to_json() for p in made]}
            return (201, proxies) if error is None else (error.status,
                                                         error.to_json() | proxies)

        return self.proxies.populate(specs).addCallback(answer)

    def _answer(self, request, result) -> None:
        if getattr(request, "_lab_gone", False):   # the caller hung up; the change stands
            return
        status, body = result
        request.setResponseCode(status)
        if status in (404, 405) and body is None:
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.write(b"404 page not found\n" if status == 404 else b"")
        elif body is not _NO_CONTENT:
            request.setHeader(b"content-type", b"application/json")
            request.write(json.dumps(body).encode())
        request.finish()

    def _fail(self, request, failure) -> None:
        if getattr(request, "_lab_gone", False):
            return
        error = failure.value
        if not isinstance(error, ApiError):
            log.err(failure, "lab.faults API")
            error = ApiError(str(error) or error.__class__.__name__, 500)
        request.setResponseCode(error.status)
        request.setHeader(b"content-type", b"application/json")
        request.write(json.dumps(error.to_json()).encode() + b"\n")
        request.finish()


#: How long a refused client may go on sending after its 413: closing with its body
#: unread would send a reset, which can destroy the 413 before the client reads it.
REFUSE_LINGER = 2.0


class _BoundedRequest(server.Request):
    """A request whose body may not exceed MAX_BODY: a longer one (by its
    Content-Length, or as chunks arrive) is answered 413 and never processed, so no
    body is stored beyond the bound; what the client still sends is dropped, and the
    connection ends when it closes or REFUSE_LINGER seconds later."""

    _refused = False
    _received = 0

    def gotLength(self, length):
        if length is not None and length > MAX_BODY:
            self._refuse()
        super().gotLength(0 if self._refused else length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > MAX_BODY:
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self._refused:       # the channel's "the whole request is here"
            super().requestReceived(command, path, version)

    def _refuse(self) -> None:
        if self._refused:
            return
        self._refused = True
        self.requestHeaders.removeHeader(b"expect")    # no "100 Continue" after a 413
        error = ApiError(f"request body larger than {MAX_BODY} bytes", 413)
        body = json.dumps(error.to_json()).encode() + b"\n"
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
            b"X-Toxiproxy-Request-Id: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (_request_id(), len(body)) + body)
        getattr(transport, "loseWriteConnection", transport.loseConnection)()
        self._linger = self.channel.callLater(REFUSE_LINGER, transport.abortConnection)

    def connectionLost(self, reason):
        linger = getattr(self, "_linger", None)
        if linger is not None and linger.active():
            linger.cancel()       # the client closed first: nothing left to end
        super().connectionLost(reason)


class _Site(server.Site):
    """The API's Site: a client outside the admitted networks is closed at once."""

    def __init__(self, proxies: Proxies):
        super().__init__(ControlAPI(proxies), reactor=proxies.reactor)
        self.proxies = proxies

    def buildProtocol(self, addr):
        if not admits(self.proxies.clients, addr):
            refused("the API", addr)
            return None
        return super().buildProtocol(addr)


def site(proxies: Proxies) -> server.Site:
    """The API as a Site, ready for `listenTCP` (quiet: no per-request log lines),
    admitting the clients `proxies` admits."""
    factory = _Site(proxies)
    factory.requestFactory = _BoundedRequest
    factory.log = lambda request: None
    factory.noisy = False
    return factory
