"""The base of the mock web server's pages: what every page answers alike.

- A method the page has no `render_<METHOD>` for is a 405 with `Allow`, answered
  here rather than by Twisted's own page, which on Debian's Twisted 22.4 fails with
  a 500 when the request line holds bytes that are not ASCII.
- A `BadQuery` raised while rendering (an argument out of its range) is a 400.
"""

from __future__ import annotations

from twisted.web import resource, server

from lab.web.query import BadQuery, bad_query


class Page(resource.Resource):
    def render(self, request: server.Request):
        method = request.method.decode("latin-1")
        handler = getattr(self, f"render_{method}", None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "render_GET", None)   # Twisted drops the body
        if handler is None:
            allowed = {name[len("render_"):] for name in dir(self) if name.startswith("render_")}
            allowed = sorted(allowed | ({"HEAD"} if "GET" in allowed else set()))
            request.setResponseCode(405)
            request.setHeader(b"allow", ", ".join(allowed).encode())
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return f"method not allowed (allowed: {', '.join(allowed)})\n".encode()
        try:
            return handler(request)
        except BadQuery as error:
            return bad_query(request, error)
