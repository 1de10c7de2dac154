"""Tidy test servers: Twisted servers whose `clean_up()` fires only once the listener
and every connection are gone (`servers`), the bookkeeping behind that promise
(`tracking`) and throwaway TLS material (`tls`). Twisted only; the web image
copies this folder.
"""

from lab.tidy.servers import (
    ABORT_AFTER,
    TidySocketServer,
    TidyTCPServer,
    TidyTLSServer,
    TidyUnixServer,
)

__all__ = ["ABORT_AFTER", "TidySocketServer", "TidyTCPServer", "TidyTLSServer",
           "TidyUnixServer"]
