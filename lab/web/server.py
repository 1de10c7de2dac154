"""The mock web server: what the lab's `web` service runs, and what tests start in-process.

Plain Twisted: it runs on Debian 12's Twisted 22.4 inside the image and on
current Twisted on the host, and knows nothing of Docker. The image copies
only `lab/web/` and `lab/tidy/`, so everything the site serves is in those.
Listening is done by tidy servers, so `stop()` keeps
their promise: it fires only once the listeners are closed and every
connection, keep-alive ones included, is gone.

Resources (`/` lists them: HTML, or JSON with `Accept: application/json`):
the pages in `lab.web.resources` (`/simpleresource`, `/throwerror`,
`/unauthorized`, `/headers`, `/slow`, `/large`, `/redirect`, `/status`, and
the origin faults `/reset`, `/truncate`, `/stall`, `/slow-headers`,
`/bad-chunking`), and
`/proxy.pac` and `/wpad.dat` when given a PAC (`--pac-file`, `--pac-lab-file`), and
the evidence in `lab.web.records`: `/matrix/<run>/<scenario>` records each
request that reached the origin, `/_lab/requests?prefix=...` returns the records.
Users import all of these names from `lab.mockweb`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twisted.internet import defer
from twisted.web import resource, server

from lab.tidy.servers import TidyTCPServer, TidyTLSServer
from lab.web.faults import origin_fault_resources
from lab.web.records import MAX_RECORDS, MatrixResource, RequestLog, RequestsResource
from lab.web.resources import (
    HEADERS,
    LARGE,
    MATRIX,
    NOT_FOUND,
    PROXY_PAC,
    REDIRECT,
    REQUESTS,
    SIMPLERESOURCE,
    SLOW,
    STATUS,
    THROWERROR,
    UNAUTHORIZED,
    WPAD_DAT,
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


def build_root(reactor=None, log: RequestLog | None = None,
               pac: PacResource | None = None) -> resource.Resource:
    """The site's root; `reactor` times `/slow` and the records of `log`; `pac`
    serves `/proxy.pac` and `/wpad.dat` (else they are 404)."""
    from lab.tidy.servers import global_reactor

    reactor = reactor or global_reactor()
    log = log if log is not None else RequestLog(reactor)
    root = IndexResource()
    lab = Folder()
    for name, child in ((SIMPLERESOURCE, SimpleResource()),
                        (THROWERROR, NOT_FOUND),
                        (UNAUTHORIZED, ErrorResource(401, "Unauthorized")),
                        (HEADERS, HeadersResource()), (SLOW, SlowResource(reactor)),
                        (LARGE, LargeResource()), (REDIRECT, RedirectResource()),
                        (STATUS, StatusResource()), (MATRIX, MatrixResource(log)),
                        ("_lab", lab), *origin_fault_resources(reactor).items()):
        root.putChild(name.encode(), child)
    lab.putChild(REQUESTS.split("/")[1].encode(), RequestsResource(log))
    for name in (PROXY_PAC, WPAD_DAT):
        root.putChild(name.encode(), pac or NOT_FOUND)
    return root


class NotListeningError(RuntimeError):
    """A URL was asked of a server that is not (or no longer) listening; when
    listening failed, `__cause__` is why (e.g. `CannotListenError`)."""


class MockWebServer:
    """The mock site over HTTP and HTTPS; starts listening when constructed.

    `interface` is where to bind: 127.0.0.1 for tests that talk to it
    directly, the lab network's gateway (`host_interface` in `lab status --json`) for
    tests that fetch it THROUGH the lab's proxy. `host` is the name to put in URLs (default:
    the interface). `certificate` (a `lab.tidy.tls.SelfSigned`, maybe with a chain)
    is what HTTPS presents; by default one is made for `host`, `localhost` and
    the interface. `reactor` defaults to the global one.

    `listening()` (or the classmethod `start()`) fires with the server once
    both listeners are up, or fails with the `CannotListenError` of the first
    that could not listen, after closing the other: nothing is left listening.
    """

    def __init__(self, interface: str = "127.0.0.1", host: str | None = None,
                 port: int = 0, https_port: int = 0, certificate=None, reactor=None,
                 max_records: int = MAX_RECORDS, pac: PacResource | None = None):
        from lab.tidy.servers import global_reactor
        from lab.tidy.tls import make_self_signed

        self.reactor = reactor or global_reactor()
        self.host = host or interface
        names = tuple(dict.fromkeys(n for n in (self.host, "localhost") if not _is_ip(n)))
        addresses = tuple(dict.fromkeys(a for a in (interface, self.host, "127.0.0.1")
                                        if _is_ip(a) and a != "0.0.0.0"))
        self.certificate = certificate or make_self_signed(names or ("localhost",), addresses)
        self.requests = RequestLog(self.reactor, max_records)
        self.site = server.Site(build_root(self.reactor, self.requests, pac))
        self.site.timeOut = None   # stop() closes keep-alive connections, not a timer
        self._http = TidyTCPServer(interface, port, reactor=self.reactor)
        self._https = TidyTLSServer(self.certificate, interface, https_port,
                                    reactor=self.reactor)
        self._failure = None
        self._stopped = False
        attempts = [self._http.listen_server(lambda: self.site),
                    self._https.listen_server(lambda: self.site)]
        # Never fails, so no "Unhandled error in Deferred": the outcome is kept instead.
        self._settled = defer.DeferredList(attempts, consumeErrors=True)
        self._settled.addCallback(self._check_listening)

    @classmethod
    def start(cls, *args, **kwargs) -> defer.Deferred:
        """`MockWebServer(*args, **kwargs).listening()`: fires with the listening server."""
        return cls(*args, **kwargs).listening()

    def _check_listening(self, results) -> defer.Deferred | None:
        failures = [outcome for ok, outcome in results if not ok]
        if not failures:
            return None
        self._failure = failures[0]
        return self._close().addErrback(lambda _: None)

    def _when_settled(self) -> defer.Deferred:
        """A fresh Deferred firing (with None) once listening has succeeded or failed
        and, on failure, the other listener is closed."""
        waiter: defer.Deferred = defer.Deferred()

        def relay(result):
            waiter.callback(None)
            return result

        self._settled.addCallback(relay)
        return waiter

    def listening(self) -> defer.Deferred:
        """Fires with this server once both listeners are up; fails with the
        listen error (nothing left listening) if either could not listen."""
        return self._when_settled().addCallback(lambda _: self._failure or self)

    def _port(self, tidy: TidyTCPServer) -> int:
        if self._failure is not None:
            raise NotListeningError(f"mock web server could not listen: "
                                    f"{self._failure.getErrorMessage()}") from self._failure.value
        if self._stopped:
            raise NotListeningError("mock web server was stopped")
        if tidy.listener is None:
            raise NotListeningError("mock web server is not listening yet: wait for listening()")
        return tidy.listener.getHost().port

    def get_url(self) -> str:
        return f"http://{self.host}:{self._port(self._http)}/"

    def get_https_url(self) -> str:
        return f"https://{self.host}:{self._port(self._https)}/"

    @property
    def ca_cert_pem(self) -> bytes:
        """The PEM a client must trust for `get_https_url()` (the CA of the chain,
        or the certificate itself when self-signed)."""
        return self.certificate.ca_pem

    def _close(self) -> defer.Deferred:
        return defer.gatherResults([self._http.clean_up(), self._https.clean_up()],
                                   consumeErrors=True).addCallback(lambda _: None)

    def stop(self) -> defer.Deferred:
        """Close both listeners and every connection; fires when all are gone
        (also after a failed listen, when there is less to close)."""
        self._stopped = True
        return self._when_settled().addCallback(lambda _: self._close())


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Serve the mock site until killed (the `web` container's command); exit 1
    with the reason when a port cannot be listened on."""
    from twisted.internet import reactor
    from twisted.logger import Logger, globalLogBeginner, textFileLogObserver

    from lab.tidy.tls import SelfSigned

    parser = argparse.ArgumentParser(prog="python3 -m lab.web")
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--tls-pem", help="key, certificate, then any CA certificates, PEM")
    parser.add_argument("--pac-file", help="PAC text for /proxy.pac and /wpad.dat (host view)")
    parser.add_argument("--pac-lab-file", help="PAC text for clients in --lab-subnet")
    parser.add_argument("--lab-subnet", help="the lab network, e.g. 172.29.53.0/24")
    parser.add_argument("--lab-gateway", action="append",
                        help="an address in --lab-subnet through which HOST clients come "
                        "(docker's gateway, a forwarder); repeatable (default: the "
                        "subnet's first)")
    args = parser.parse_args(argv)
    if (args.pac_lab_file or args.lab_subnet) and not (args.pac_file and args.lab_subnet):
        parser.error("--pac-lab-file needs --pac-file and --lab-subnet")
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    log = Logger("lab.mockweb")
    certificate = None
    if args.tls_pem:
        certificate = SelfSigned.from_combined_pem(Path(args.tls_pem).read_bytes())
    exit_code = [0]

    def failed(failure) -> None:
        log.error("cannot serve: {reason}", reason=failure.getErrorMessage())
        exit_code[0] = 1
        reactor.callWhenRunning(reactor.stop)

    def serving(web: MockWebServer) -> None:
        log.info("serving {http} and {https}", http=web.get_url(), https=web.get_https_url())

    pac = None
    if args.pac_file:
        lab_text = Path(args.pac_lab_file).read_text() if args.pac_lab_file else None
        pac = PacResource(Path(args.pac_file).read_text(), lab_text, args.lab_subnet,
                          args.lab_gateway)
    MockWebServer(args.interface, port=args.port, https_port=args.https_port,
                  certificate=certificate, pac=pac).listening().addCallbacks(serving, failed)
    reactor.run()
    return exit_code[0]

