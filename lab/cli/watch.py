"""`lab watch`: what every part of the running lab sees, live, one line per event.

squid's requests (port, method, target, the scheme the client offered, status, user),
dante's SOCKS sessions and refusals, the questions bind is asked, the connections the
fault layer relays (opened, and closed with their bytes and toxics: squid logs a
CONNECT only when its tunnel closes, the fault layer shows it open at once), and the
DC's authentications. Filters keep the events that name the port, user or client
asked for; `--json` writes one object a line for tools. The lab's own health checks
(from inside its containers) are left out unless `--all`.

Each source is read by a thread into one queue; events are printed in time order, each
`REORDER` seconds after it happened (the parts write with their own delays). Ctrl-C (or
SIGTERM) closes every stream: the followers in the containers end with them
(`lab.stack.follow`). Watching costs the lab a `tail` per log and a poll of the fault
layer's journal a few times a second (`make bench` measures it).
"""

from __future__ import annotations

import heapq
import json
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from lab.cli.common import say
from lab.errors import LabError
from lab.scenarios.evidence import bind, dante, fault_layer, samba, squid
from lab.scenarios.evidence.log import from_inside
from lab.scenarios.evidence.squid import SCHEME_NAMES

#: how often the fault layer's journal is asked for new events
POLL = 0.2
#: how long an event waits for those of other parts that happened before it (each part
#: writes with its own delay): lines come out in time order, this much late
REORDER = 0.4
#: how many connections' addresses are remembered to name a squid or dante line's client
REMEMBERED = 8192

Event = dict[str, Any]


def _host(address: str | None) -> str | None:
    if not address:
        return None
    return address.rsplit(":", 1)[0].strip("[]") if ":" in address else address


def _clock(when: float | None) -> str:
    when = time.time() if when is None else when
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"


class Watch:
    """Turns each source's raw lines into events, and decides which are shown."""

    def __init__(self, port: str | None, user: str | None, client: str | None,
                 everything: bool, own: frozenset[str] = frozenset()):
        self.port, self.user, self.client, self.everything = port, user, client, everything
        #: the proxy's own addresses besides loopback (its health check comes from them)
        self.own = own
        #: (the lab port, the fault layer's side of a connection to it) -> the client it
        #: came from (the layer's side of two connections to two ports may be one address)
        self.clients: OrderedDict[tuple[str, str], str] = OrderedDict()

    def _remember(self, port: str, upstream: str | None, client: str | None) -> None:
        if upstream and client:
            self.clients[(port, upstream)] = client
            while len(self.clients) > REMEMBERED:
                self.clients.popitem(last=False)

    def events(self, source: str, item: Any) -> Iterator[Event]:
        """The events in one source's item: a log's line (squid, dante, bind, the DC),
        or a fault layer's journal event."""
        if source == "faults":
            yield from self._connection(item)
        elif source == "proxy":
            for r in squid.parse(item):
                yield {"source": "proxy", **r, **self._client(r["connection"])}
        elif source == "socks":
            for r in dante.parse(item):
                yield {"source": "socks", **r, **self._client(r["connection"])}
        elif source == "dns":
            for r in bind.parse(item):
                yield {"source": "dns", **r, "port": None, "user": None,
                       "health_check": from_inside(r["client"])}
        elif source == "dc" and (r := samba.parse_line(item)) is not None:
            yield {"source": "dc", **r, "port": None}

    def _client(self, connection: str) -> dict[str, Any]:
        """Who a squid or dante line's connection came from: the fault layer's client
        for it (named when the event is shown: the fault layer's event may come a moment
        after squid's). One that did not come through the fault layer (from loopback, or
        the proxy's own address) is the proxy's health check."""
        own = from_inside(connection) or _host(connection) in self.own
        return {"client": connection if own else None, "health_check": own}

    def named(self, event: Event) -> Event:
        """`event` with its client, if the fault layer has said who it is by now."""
        if event.get("client") is None and event.get("connection"):
            return {**event, "client": self.clients.get((event["port"], event["connection"]))}
        return event

    def _connection(self, event: Event) -> Iterator[Event]:
        port = fault_layer.port_of(event["proxy"])
        self._remember(port, event["upstream"], event["client"])
        yield {"source": "faults", "time": event["time"], "event": event["event"],
               "port": port, "client": event["client"], "upstream": event["upstream"],
               "user": None, "health_check": from_inside(event["client"]),
               **{k: event[k] for k in ("bytes_up", "bytes_down", "toxics", "how")
                  if k in event}}

    def shown(self, event: Event) -> bool:
        client = event.get("client")
        if event.get("health_check") and not self.everything:
            return False
        if self.port is not None and event.get("port") != self.port:
            return False
        if self.user is not None and not _same_user(event.get("user"), self.user):
            return False
        if self.client is not None and not (client == self.client
                                            or _host(client) == self.client):
            return False
        return True


def _same_user(logged: str | None, wanted: str) -> bool:
    """`alice` matches `AD\\alice`, `alice@AD.EXAMPLE.COM` and `alice`, any case."""
    if not logged:
        return False
    bare = logged.rsplit("\\", 1)[-1].split("@", 1)[0]
    return wanted.lower() in (logged.lower(), bare.lower())


def line(event: Event) -> str:
    """The event as a person reads it."""
    source, when = event["source"], _clock(event.get("time"))
    port = event.get("port") or ""
    if source == "proxy":
        scheme = SCHEME_NAMES.get(event["offered"] or "", "no credentials")
        user = f" user {event['user']}" if event["user"] else ""
        what = f"{event['method']} {event['url']} → {event['status']} {scheme}{user}"
    elif source == "faults":
        if event["event"] == "open":
            what = f"connection open from {event['client']}"
        else:
            toxics = ", ".join(f"{t['name']} ({t['type']})" for t in event["toxics"])
            what = (f"connection closed ({event['how']}): {event['bytes_up']} B up, "
                    f"{event['bytes_down']} B down" + (f"; toxics {toxics}" if toxics else ""))
    elif source == "socks":
        who = event["user"] or "?"
        if event["event"] == "open":
            what = f"session {who} → {event['target']}"
        elif event["event"] == "end":
            what = f"session {who} ended: {event['reason']}"
        else:
            what = f"refused {who}: {event['reason']}"
    elif source == "dns":
        what = f"{event['client']} asked {event['name']} {event['type']}"
    else:
        outcome = "ok" if event["ok"] else event["status"]
        what = (f"{event['service']}: {event['user']} ({event['how']}) from "
                f"{event['client'] or 'the DC itself'}: {outcome}")
    return f"{when} {source:<6} {port:<9} {what}".rstrip()


def _poll_journal(journal, last: int, stop: threading.Event,
                  put: Callable[[str, Any], None]) -> None:
    """The fault layer's new events, every POLL seconds (`FaultJournal`)."""
    while not stop.wait(POLL):
        read = journal.after(last)
        if read is None:
            put("ended", "the fault layer's API stopped answering")
            return
        events, last, missed = read
        if missed:
            put("note", missed)
        for event in events:
            put("faults", event)


def _follow_all(stack) -> list:
    """(source, Follow) for every log: all of them, or none (an error closes those
    already open)."""
    from lab.stack.follow import follow_file, follow_output
    from lab.stack.service_logs import LOGS

    follows = []
    try:
        for source, name in (("proxy", "squid"), ("socks", "dante"), ("dns", "bind")):
            service, path = LOGS[name]
            follows.append((source, follow_file(stack, service, path)))
        follows.append(("dc", follow_output(stack, "dc")))
    except BaseException as error:
        for _, follow in follows:
            follow.close()
        if isinstance(error, Exception) and not isinstance(error, LabError):
            raise LabError(f"cannot follow the lab's logs: {error}") from None
        raise
    return follows


def cmd_watch(args) -> int:
    from lab.cli.scenarios import _lab_for_scenarios
    from lab.stack.service_faults import api_url
    from lab.stack.service_logs import FaultJournal

    stack, endpoints = _lab_for_scenarios(args, healthy=False)
    watch = Watch(args.port, args.user, args.client, args.all,
                  frozenset({endpoints.proxy_lab_address} - {None}))
    journal = FaultJournal(api_url(stack))
    last = journal.mark()
    if last is None:
        raise LabError("the fault layer's API does not answer: run `lab check`")
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    follows = _follow_all(stack)

    def read(source: str, follow) -> None:
        try:
            for text in follow.lines():
                events.put((source, text))
        except Exception as error:          # the engine went away
            events.put(("ended", f"{source}: {error}"))
            return
        if not follow.closed:
            events.put(("ended", f"the {source} log stream ended (the lab went down?)"))

    threads = [threading.Thread(target=read, args=pair, daemon=True) for pair in follows]
    threads.append(threading.Thread(target=_poll_journal, daemon=True, args=(
        journal, last, stop, lambda source, item: events.put((source, item)))))
    try:
        for thread in threads:
            thread.start()
        say(f"watching {stack.config.project}: squid, dante, bind, the fault layer, the DC "
            "(Ctrl-C to stop)")
        ended = 0
        held: list[tuple[float, int, Event]] = []     # a heap, by time
        count = 0

        def flush(before: float) -> None:
            while held and held[0][0] <= before:
                event = watch.named(heapq.heappop(held)[2])
                if watch.shown(event):
                    print(json.dumps(event) if args.json else line(event), flush=True)

        while ended < len(threads):
            try:
                source, item = events.get(timeout=REORDER / 3)
            except queue.Empty:
                flush(time.time() - REORDER)
                continue
            if source in ("ended", "note"):
                ended += source == "ended"
                say(str(item))
                continue
            for event in watch.events(source, item):
                count += 1
                heapq.heappush(held, (event.get("time") or time.time(), count, event))
            flush(time.time() - REORDER)
        flush(float("inf"))
    except KeyboardInterrupt:            # Ctrl-C or SIGTERM: how a watch ends
        return 0
    finally:
        stop.set()
        for _, follow in follows:
            follow.close()
    return 1


def add_parsers(sub) -> None:
    from lab.config.topology import PROXY_PORTS, SOCKS_PORT

    watch = sub.add_parser(
        "watch", help="what every part of the lab sees, live: proxy requests, SOCKS, DNS, "
        "connections, the DC's authentications",
        description="One line per event, as it happens, until Ctrl-C. squid logs a "
        "CONNECT when its tunnel closes; the fault layer shows the connection when it "
        "opens.")
    ports = (*PROXY_PORTS, SOCKS_PORT)
    watch.add_argument("--port", choices=ports, metavar="PORT",
                       help="only events on this lab port: " + ", ".join(ports))
    watch.add_argument("--user", help="only events naming this user (alice matches "
                       "AD\\alice and alice@REALM)")
    watch.add_argument("--client", metavar="ADDRESS", help="only events from this client "
                       "address (as the lab sees it: this host's own clients come from "
                       "the lab's gateway)")
    watch.add_argument("--json", action="store_true", help="one JSON object a line")
    watch.add_argument("--all", action="store_true",
                       help="the lab's own health checks too")
    watch.set_defaults(func=cmd_watch)
