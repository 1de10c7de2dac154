"""A throwaway HTTP server on 127.0.0.1 in a thread, for tests that need one to ask."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(handler) -> Iterator[str]:
    """`handler` (a `BaseHTTPRequestHandler` class or factory) served until the block
    ends; yields the base URL, `http://127.0.0.1:PORT/`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
