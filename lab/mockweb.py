"""The mock web server: what the lab's `web` service runs, and what tests start in-process.

Plain Twisted (it must run on Debian 12's Twisted 22.4 inside the image and
on current Twisted on the host); it knows nothing of Docker.
"""

from __future__ import annotations

import argparse
import sys

from twisted.internet import defer
from twisted.web import resource, server

#: The seed's resource names and body, kept so ported tests still match.
SIMPLERESOURCE = "simpleresource"
THROWERROR = "throwerror"
UNAUTHORIZED = "unauthorized"
SAMPLE_RESOURCE = b"<p>Hello World!</p>"


class SimpleResource(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return SAMPLE_RESOURCE


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
    return root


class TrackingSite(server.Site):
    """A Site that knows its open connections, so `stop()` can close and await them."""

    def __init__(self, root, **kwargs):
        super().__init__(root, **kwargs)
        self.open_connections: dict = {}

    def buildProtocol(self, addr):
        channel = super().buildProtocol(addr)
        lost = defer.Deferred()
        self.open_connections[channel] = lost
        original = channel.connectionLost

        def connectionLost(reason, _original=original, _channel=channel):
            try:
                _original(reason)
            finally:
                self.open_connections.pop(_channel, None)
                lost.callback(None)

        channel.connectionLost = connectionLost
        return channel


def main(argv: list[str] | None = None) -> int:
    """Serve the mock site until killed (the `web` container's command)."""
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    parser = argparse.ArgumentParser(prog="python3 -m lab.mockweb")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--interface", default="127.0.0.1")
    args = parser.parse_args(argv)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    reactor.listenTCP(args.port, TrackingSite(build_root()), interface=args.interface)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
