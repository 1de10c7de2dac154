"""The mock web server's public names (`from lab.mockweb import MockWebServer`).

The code lives in `lab.web`; this module only gathers what users import from one
place. `python -m lab.web` runs the server.
"""

from lab.web.records import MAX_RECORDS, MatrixResource, RequestLog, RequestsResource
from lab.web.resources import (
    HEADERS,
    INDEX,
    LARGE,
    MATRIX,
    MAX_LARGE_BYTES,
    MAX_SLOW_SECONDS,
    NOT_FOUND,
    REDIRECT,
    REQUESTS,
    SAMPLE_RESOURCE,
    SIMPLERESOURCE,
    SLOW,
    STATUS,
    THROWERROR,
    UNAUTHORIZED,
    ErrorResource,
    Folder,
    HeadersResource,
    IndexResource,
    LargeResource,
    PacResource,
    RedirectResource,
    SimpleResource,
    SlowResource,
    StatusResource,
)
from lab.web.server import MockWebServer, NotListeningError, build_root, main

__all__ = [
    "HEADERS", "INDEX", "LARGE", "MATRIX", "MAX_LARGE_BYTES", "MAX_RECORDS",
    "MAX_SLOW_SECONDS", "NOT_FOUND", "REDIRECT", "REQUESTS", "SAMPLE_RESOURCE",
    "SIMPLERESOURCE", "SLOW", "STATUS", "THROWERROR", "UNAUTHORIZED", "ErrorResource",
    "Folder", "HeadersResource", "IndexResource", "LargeResource", "MatrixResource",
    "MockWebServer", "NotListeningError", "PacResource", "RedirectResource", "RequestLog",
    "RequestsResource", "SimpleResource", "SlowResource", "StatusResource",
    "build_root", "main",
]

if __name__ == "__main__":       # `python -m lab.mockweb`, as before `python -m lab.web`
    import sys

    sys.exit(main())
