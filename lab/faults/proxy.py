"""Proxies and their toxics: the one state the HTTP API, the client and the CLI share.

A `Proxy` listens on `listen` and forwards every accepted connection to
`upstream` through its toxics (see lab.faults.link). Toxics are added, updated
and removed live: connections already open get the change too, as in
Toxiproxy, so a keep-alive client cannot dodge a fault. `enabled=False` is a
service down: the listener closes (new connections are refused) and every open
connection is closed. `Proxies` is the collection, with Toxiproxy's reset.
"""

from __future__ import annotations

import ipaddress
import random
import time

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from lab.faults.journal import Journal
from lab.faults.link import HIGH_WATER, Connection
from lab.faults.schema import (
    BAD_REQUEST_BODY,
    MAX_PROXIES,
    MAX_TOXICS,
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    STREAMS,
    TOO_MANY_PROXIES,
    TOO_MANY_TOXICS,
    TOXIC_EXISTS,
    TOXIC_NOT_FOUND,
    UPSTREAM_REFUSED,
    ApiError,
    Toxic,
    check_name,
    toxic_updated,
)


def split_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` → (host, port); an empty host is `default_host`."""
    host, colon, port = str(text).rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not (colon and port.isascii() and port.isdigit() and len(port) <= 5
            and int(port) <= 65535 and len(host) <= 255):
        raise BAD_REQUEST_BODY(f"address {str(text)[:80]!r} is not host:port")
    return host or default_host, int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_address(text: str) -> str:
    """The address a `listen` value binds, as Toxiproxy reports it: `localhost` is
    127.0.0.1 (so `localhost:7070` and `127.0.0.1:7070` are one address), an empty
    host every interface. Other names are refused: resolving one would block the
    fault server, and a fault layer listens on its own addresses."""
    host, port = split_address(text, default_host="0.0.0.0")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise BAD_REQUEST_BODY(f"listen {str(text)[:80]!r} must be an address "
                               f"(or localhost) and a port") from None
    return join_address(host, port)


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
log = Logger("lab.faults")


def admits(networks: Networks | None, address) -> bool:
    """Whether a client at `address` (a Twisted address) may connect: any, when
    `networks` is None; an address that is not IP (a UNIX socket) is this machine's."""
    if networks is None:
        return True
    try:
        host = ipaddress.ip_address(getattr(address, "host", ""))
    except ValueError:
        return True
    return any(host in network for network in networks)


#: A refused client gets a log line at most this often (seconds), on each port: a port
#: scanner must not grow the log without bound.
REFUSED_LOG_EVERY = 10.0
_refused_logged: dict[tuple[str, str], float] = {}


def refused(what: str, address, now: float | None = None) -> None:
    """A line in the fault server's log for a client outside the admitted networks."""
    client = str(getattr(address, "host", address))
    now = time.monotonic() if now is None else now
    if now - _refused_logged.get((client, what), -REFUSED_LOG_EVERY) < REFUSED_LOG_EVERY:
        return
    if len(_refused_logged) > 4096:
        _refused_logged.clear()
    _refused_logged[(client, what)] = now
    log.warn("refused {client} on {what}: not in the admitted networks (LAB_ALLOW)",
             client=client, what=what)


class _Accept(protocol.Factory):
    noisy = False

    def __init__(self, proxy: Proxy):
        self.proxy = proxy

    def buildProtocol(self, addr):
        if not admits(self.proxy.clients, addr):
            refused(self.proxy.name, addr)
            return None                    # Twisted closes the connection
        conn = Connection(self.proxy)
        self.proxy.connections.add(conn)
        return conn.client


def check_upstream(upstream: str, networks: Networks | None) -> None:
    """Refuse (403) an upstream outside `networks`; None: anywhere, as Toxiproxy. A
    name is refused too: only an address says where a connection will go."""
    host, _ = split_address(upstream)
    if networks is None:
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not any(address in network for network in networks):
        allowed = ", ".join(str(n) for n in networks)
        raise UPSTREAM_REFUSED(f"{upstream} (give an address in {allowed})")


class Proxy:
    """One listening port in front of one upstream, with its toxics."""

    def __init__(self, name: str, listen: str, upstream: str, reactor=None,
                 rng: random.Random | None = None, high_water: int = HIGH_WATER,
                 upstreams: Networks | None = None, clients: Networks | None = None,
                 journal: Journal | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.name, self.listen, self.upstream = name, listen, upstream
        self.journal = journal or Journal(reactor)
        self.reactor, self.rng, self.high_water = reactor, rng or random.Random(), high_water
        self.upstreams, self.clients = upstreams, clients
        listen_address(listen)
        check_upstream(upstream, upstreams)
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self._port: IListeningPort | None = None

    @property
    def enabled(self) -> bool:
        return self._port is not None

    def upstream_address(self) -> tuple[str, int]:
        return split_address(self.upstream)

    def toxic_list(self) -> list[Toxic]:
        """Upstream toxics, then downstream ones, each in the order added (Toxiproxy's)."""
        return [t for stream in STREAMS for t in self.toxics.values() if t.stream == stream]

    def to_json(self) -> dict:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxic_list()]}

    def start(self) -> None:
        """Listen (a no-op if listening). `listen` becomes the address actually bound
        (`localhost:0` → `127.0.0.1:40123`), as Toxiproxy reports it."""
        if self._port is not None:
            return
        host, port = split_address(listen_address(self.listen))
        try:
            self._port = self.reactor.listenTCP(port, _Accept(self), interface=host)
        except Exception as error:  # CannotListenError: Toxiproxy's 500 too
            raise ApiError(f"cannot listen on {self.listen}: {error}", 500) from None
        self.listen = join_address(host, self._port.getHost().port)

    def differs(self, listen: str, upstream: str) -> bool:
        """Toxiproxy's Differs: whether `listen` (as it would bind) or `upstream` is
        not this proxy's; a listen port 0 always differs from a bound one."""
        return listen_address(listen) != self.listen or upstream != self.upstream

    def stop(self) -> defer.Deferred:
        """Stop listening and close every connection; fires once the port is closed."""
        port, self._port = self._port, None
        for conn in list(self.connections):
            conn.close()
        if port is None:
            return defer.succeed(None)
        return defer.maybeDeferred(port.stopListening)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    @defer.inlineCallbacks
    def update(self, listen: str, upstream: str, enabled: bool):
        """Toxiproxy's ProxyUpdate: a new address restarts the proxy (dropping its
        connections); then `enabled` takes it down or up."""
        listen_address(listen)
        check_upstream(upstream, self.upstreams)
        if self.differs(listen, upstream):
            was = self.enabled
            yield self.stop()
            self.listen, self.upstream = listen, upstream
            if was:
                self.start()
        if enabled and not self.enabled:
            self.start()
        elif not enabled and self.enabled:
            yield self.stop()

    def _pipes(self, stream: str):
        return [c.pipes[stream] for c in self.connections if c.pipes]

    def add_toxic(self, toxic: Toxic) -> Toxic:
        if toxic.name in self.toxics:
            raise TOXIC_EXISTS()
        if len(self.toxics) >= MAX_TOXICS:
            raise TOO_MANY_TOXICS()
        self.toxics[toxic.name] = toxic
        for pipe in self._pipes(toxic.stream):
            pipe.append(toxic)
        return toxic

    def get_toxic(self, name: str) -> Toxic:
        if name not in self.toxics:
            raise TOXIC_NOT_FOUND()
        return self.toxics[name]

    def update_toxic(self, name: str, body: object) -> Toxic:
        toxic = toxic_updated(self.get_toxic(name), body)
        self.toxics[name] = toxic
        for pipe in self._pipes(toxic.stream):
            pipe.replace(toxic)
        return toxic

    def remove_toxic(self, name: str) -> None:
        toxic = self.get_toxic(name)
        del self.toxics[name]
        for pipe in self._pipes(toxic.stream):
            pipe.remove(name)

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)


class Proxies:
    """The named proxies of one fault server."""

    def __init__(self, reactor=None, rng: random.Random | None = None,
                 upstreams: Networks | None = None, clients: Networks | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor, self.rng = reactor, rng or random.Random()
        self.upstreams = upstreams        # None: any upstream, as Toxiproxy
        self.clients = clients            # None: any client, as Toxiproxy
        self.proxies: dict[str, Proxy] = {}
        self.journal = Journal(self.reactor)

    def get(self, name: str) -> Proxy:
        if name not in self.proxies:
            raise PROXY_NOT_FOUND()
        return self.proxies[name]

    def create(self, name: str, listen: str, upstream: str, enabled: bool = True) -> Proxy:
        """A new proxy, listening at once if `enabled`; 409 if the name is taken."""
        if name in self.proxies:
            raise PROXY_EXISTS()
        check_name(name, "name")
        if len(self.proxies) >= MAX_PROXIES:
            raise TOO_MANY_PROXIES()
        proxy = Proxy(name, listen, upstream, self.reactor, self.rng, upstreams=self.upstreams,
                      clients=self.clients, journal=self.journal)
        if enabled:
            proxy.start()
        self.proxies[name] = proxy
        return proxy

    @defer.inlineCallbacks
    def delete(self, name: str):
        proxy = self.get(name)
        del self.proxies[name]
        yield proxy.stop()

    @defer.inlineCallbacks
    def populate(self, specs: list[dict]):
        """Toxiproxy's /populate: each proxy in turn, replacing a same-named one
        whose listen (as it would bind) or upstream differs; an identical one is
        kept, toxics and all. Fires with (the proxies so far, the ApiError that
        stopped it or None): like Toxiproxy, those before a failure stay made."""
        result = []
        for spec in specs:
            name, listen = spec["name"], spec.get("listen") or "127.0.0.1:0"
            try:
                existing = self.proxies.get(name)
                if existing is not None and existing.differs(listen, spec["upstream"]):
                    yield self.delete(name)
                    existing = None
                enabled = spec.get("enabled")
                result.append(existing or self.create(name, listen, spec["upstream"],
                                                      True if enabled is None else enabled))
            except ApiError as error:
                return result, error
        return result, None

    def reset(self) -> None:
        """Every proxy enabled, every toxic removed (Toxiproxy's POST /reset)."""
        for proxy in self.proxies.values():
            proxy.start()
            proxy.remove_all_toxics()

    @defer.inlineCallbacks
    def stop(self):
        """Close everything (shutdown); the proxies stay defined but disabled."""
        yield defer.gatherResults([p.stop() for p in self.proxies.values()])
