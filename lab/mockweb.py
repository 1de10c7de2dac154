"""The mock web server: what the lab's `web` service runs, and what tests start in-process.

Plain Twisted: it runs on Debian 12's Twisted 22.4 inside the image and on
current Twisted on the host, and knows nothing of Docker. Listening is done
by tidy servers, so `stop()` keeps their promise: it fires only once the
listeners are closed and every connection, keep-alive ones included, is gone.
"""

from __future__ import annotations

import argparse
import json
import sys
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

MAX_SLOW_SECONDS = 30.0
MAX_LARGE_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


def _arg(request, name: str, default: str) -> str:
    values = request.args.get(name.encode())
    return values[0].decode() if values else default


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
        body = {"method": request.method.decode(), "uri": request.uri.decode("latin-1"),
                "headers": headers, "client": request.getClientAddress().host}
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(body, sort_keys=True).encode()


class SlowResource(resource.Resource):
    """`/slow?seconds=N`: answers after N seconds (at most 30); the timer is
    cancelled if the client goes away, so no delayed call outlives the request."""

    isLeaf = True

    def render_GET(self, request):
        from twisted.internet import reactor

        seconds = min(float(_arg(request, "seconds", "1")), MAX_SLOW_SECONDS)

        def answer():
            request.setHeader(b"content-type", b"text/plain")
            request.write(f"slept {seconds}\n".encode())
            request.finish()

        call = reactor.callLater(seconds, answer)
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


class IndexResource(resource.Resource):
    """`/`: names the resources, so a person poking at the lab sees what is here."""

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        names = sorted(name.decode() for name in self.children)
        return ("lab mock web server\n" + "".join(f"/{n}\n" for n in names)).encode()


def build_root() -> resource.Resource:
    root = IndexResource()
    root.putChild(SIMPLERESOURCE.encode(), SimpleResource())
    root.putChild(THROWERROR.encode(), resource.NoResource())
    root.putChild(UNAUTHORIZED.encode(),
                  resource.ErrorPage(401, "Unauthorized", "Unauthorized"))
    root.putChild(HEADERS.encode(), HeadersResource())
    root.putChild(SLOW.encode(), SlowResource())
    root.putChild(LARGE.encode(), LargeResource())
    root.putChild(REDIRECT.encode(), RedirectResource())
    return root


class MockWebServer:
    """The mock site over HTTP and HTTPS, listening as soon as it is constructed.

    `interface` is where to bind: 127.0.0.1 for tests that talk to it
    directly, the lab network's gateway (see `lab.stack`) for tests that fetch
    it THROUGH the lab's proxy. `host` is the name to put in URLs (default:
    the interface). `certificate` (a `lab.tls.SelfSigned`) is what HTTPS
    presents; by default one is made for `host`, `localhost` and the interface.
    """

    def __init__(self, interface: str = "127.0.0.1", host: str | None = None,
                 port: int = 0, https_port: int = 0, certificate=None):
        from lab.tls import make_self_signed

        self.host = host or interface
        names = tuple(dict.fromkeys(n for n in (self.host, "localhost") if not _is_ip(n)))
        addresses = tuple(dict.fromkeys(a for a in (interface, self.host, "127.0.0.1")
                                        if _is_ip(a) and a != "0.0.0.0"))
        self.certificate = certificate or make_self_signed(names or ("localhost",), addresses)
        self.site = server.Site(build_root())
        self.site.timeOut = None   # stop() closes keep-alive connections, not a timer
        self._http = TidyTCPServer(interface, port)
        self._https = TidyTLSServer(self.certificate, interface, https_port)
        self._http.listen_server(lambda: self.site)
        self._https.listen_server(lambda: self.site)

    def get_url(self) -> str:
        return f"http://{self.host}:{self._http.listener.getHost().port}/"

    def get_https_url(self) -> str:
        return f"https://{self.host}:{self._https.listener.getHost().port}/"

    @property
    def ca_cert_pem(self) -> bytes:
        """The PEM a client must trust for `get_https_url()` (self-signed)."""
        return self.certificate.cert_pem

    def stop(self) -> defer.Deferred:
        """Close both listeners and every connection; fires when all are gone."""
        return defer.gatherResults([self._http.clean_up(), self._https.clean_up()],
                                   consumeErrors=True).addCallback(lambda _: None)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Serve the mock site until killed (the `web` container's command)."""
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from lab.tls import SelfSigned

    parser = argparse.ArgumentParser(prog="python3 -m lab.mockweb")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--tls-pem", help="key and certificate, PEM, in one file")
    args = parser.parse_args(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    certificate = None
    if args.tls_pem:
        certificate = SelfSigned.from_combined_pem(Path(args.tls_pem).read_bytes())
    MockWebServer(args.interface, port=args.port, https_port=args.https_port,
                  certificate=certificate)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
