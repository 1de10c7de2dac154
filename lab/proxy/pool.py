"""Keep-alive connections for one agent: to the proxy (plain http), and to each
origin through its CONNECT tunnel (https).

Why not Twisted's `HTTPConnectionPool`: an NTLM exchange must own its connection
between legs (Twisted's pool would hand it to another request the moment a 407
is read), the proxy trusts a connection once NTLM completes (so we must know
which idle connections are authenticated), and responses must be read with the
head bounds of `lab.proxy.wire`. Idle connections are handed out newest first
(the oldest are the likeliest to have been closed by the proxy meanwhile).
"""

from __future__ import annotations

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IDelayedCall, IStreamClientEndpoint

from lab.proxy.wire import MAX_HEAD, MAX_LINE, BoundedHTTP11ClientProtocol


class ConnectionPool:
    """Idle connections per key, at most `max_idle` each, closed after `idle_timeout` s."""

    def __init__(self, reactor, *, max_idle: int = 16, idle_timeout: float = 60.0,
                 limits: tuple[int, int] = (MAX_LINE, MAX_HEAD)):
        self.reactor = reactor
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._limits = limits
        self._idle: dict[object, list[BoundedHTTP11ClientProtocol]] = {}
        self._timers: dict[BoundedHTTP11ClientProtocol, IDelayedCall] = {}
        self._all: dict[BoundedHTTP11ClientProtocol, defer.Deferred] = {}

    def __len__(self) -> int:
        """Connections open now (idle or in use)."""
        return len(self._all)

    def idle(self, key: object) -> int:
        return len(self._idle.get(key, ()))

    async def take(self, key: object, endpoint: IStreamClientEndpoint,
                   prefer: str | None = None) -> tuple[BoundedHTTP11ClientProtocol, bool]:
        """(connection, reused): an idle one for `key` (one authenticated by scheme
        `prefer` if any) or a new one. The caller holds it until `release()`."""
        idle = self._idle.get(key, [])
        chosen = None
        for conn in reversed(idle):
            if prefer is not None and conn.authenticated_by == prefer:
                chosen = conn
                break
        if chosen is None and idle:
            chosen = idle[-1]
        if chosen is not None:
            idle.remove(chosen)
            self._timers.pop(chosen).cancel()
            if chosen.state == "QUIESCENT":
                chosen.held = True
                return chosen, True
            return await self.take(key, endpoint, prefer)
        return await self.connect(key, endpoint), False

    async def connect(self, key: object, endpoint: IStreamClientEndpoint
                      ) -> BoundedHTTP11ClientProtocol:
        """A new connection for `key`, held by the caller."""
        def build():
            conn = BoundedHTTP11ClientProtocol(self._quiescent, self._lost, self._limits)
            conn.key, conn.held = key, True
            self._all[conn] = defer.Deferred()
            return conn

        return await endpoint.connect(protocol.Factory.forProtocol(build))

    def release(self, conn: BoundedHTTP11ClientProtocol) -> None:
        """The holder is done with the exchange: once the response is read the
        connection goes back to the idle set (at once, if it already was read)."""
        conn.held = False
        if conn.state == "QUIESCENT" and conn in self._all:
            self._quiescent(conn)

    def _quiescent(self, conn: BoundedHTTP11ClientProtocol) -> None:
        if conn.held or conn in self._timers:
            return                          # an exchange continues on it / already idle
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= self.max_idle:
            conn.transport.loseConnection()
            return
        idle.append(conn)
        self._timers[conn] = self.reactor.callLater(self.idle_timeout,
                                                     conn.transport.loseConnection)

    def _lost(self, conn: BoundedHTTP11ClientProtocol) -> None:
        timer = self._timers.pop(conn, None)
        if timer is not None and timer.active():
            timer.cancel()
        idle = self._idle.get(conn.key, [])
        if conn in idle:
            idle.remove(conn)
        gone = self._all.pop(conn, None)
        if gone is not None:
            gone.callback(None)

    def close(self) -> defer.Deferred:
        """Close every connection (idle ones politely, busy ones at once); fires
        when all are gone, so the reactor is clean."""
        waits = list(self._all.values())
        for conn in list(self._all):
            if conn in self._timers:
                conn.transport.loseConnection()
            else:
                conn.transport.abortConnection()
        return defer.gatherResults(waits).addCallback(lambda _: None)
