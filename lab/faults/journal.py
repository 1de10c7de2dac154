"""What the fault layer relayed: an event when a connection opens and one when it
closes, numbered, for readers that poll (`GET /connections?since=N`, a lab extension of
Toxiproxy's API: `lab matrix`'s evidence, `lab watch`).

The fault layer stands between every client and the lab's proxies, so its connection
pairs join what a client did to what squid and dante logged: a connection's `upstream`
(the fault layer's side towards the proxy) is the client address squid and dante log.
A close says how many bytes went each way and which toxics applied to the connection
(a toxic with toxicity below 1 applies to the connections its roll picked). Nothing of
what the bytes carry is kept.
"""

from __future__ import annotations

from collections import deque
from typing import Any

#: events kept: a reader polling every second at a thousand connections a second
#: misses none
MAX_EVENTS = 4096

Event = dict[str, Any]


def address(transport_address) -> str | None:
    """`host:port` of a Twisted address; None for one without a port."""
    host, port = getattr(transport_address, "host", None), getattr(transport_address,
                                                                   "port", None)
    if host is None or port is None:
        return None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Journal:
    """The bounded, numbered record of connection events of one fault server."""

    def __init__(self, clock, limit: int = MAX_EVENTS):
        self.clock = clock
        self.events: deque[Event] = deque(maxlen=limit)
        self.last = 0

    def _add(self, event: Event) -> Event:
        self.last += 1
        event = {"seq": self.last, "time": round(self.clock.seconds(), 6), **event}
        self.events.append(event)
        return event

    def opened(self, proxy: str, client: str | None, upstream: str | None) -> int:
        """A connection relayed from now on; its id (the open event's number)."""
        return self._add({"event": "open", "proxy": proxy, "client": client,
                          "upstream": upstream})["seq"]

    def closed(self, proxy: str, connection: int | None, client: str | None,
               upstream: str | None, opened: float, sent: int, received: int,
               toxics: list[dict[str, str]], how: str) -> None:
        """The connection is gone: what went through it, and how it ended."""
        self._add({"event": "close", "proxy": proxy, "connection": connection,
                   "client": client, "upstream": upstream, "opened": round(opened, 6),
                   "bytes_up": sent, "bytes_down": received, "toxics": toxics, "how": how})

    @property
    def first(self) -> int:
        """The number of the oldest event still kept (`last + 1` when none is)."""
        return self.events[0]["seq"] if self.events else self.last + 1

    def since(self, seq: int) -> list[Event]:
        """The events numbered after `seq`, oldest first (those still kept)."""
        if seq >= self.last:
            return []
        return [dict(e) for e in self.events if e["seq"] > seq]
