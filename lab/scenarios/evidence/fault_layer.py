"""What the fault layer saw of a run: the connections it relayed (`lab.faults.journal`),
each with its bytes each way, the toxics that applied and how it ended.

Every client reaches the lab's proxies through the fault layer, and the address squid
and dante log for a client is the fault layer's side of that client's connection: a
squid or dante record tied to a run ties the fault layer's connection with it. Fault
scenarios have a fault proxy of their own on this host (`fault_gateway`), one per run:
all its connections are that run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lab.config.topology import SOCKS_PORT

Event = dict[str, Any]


def connections(events: Iterable[Event]) -> list[dict[str, Any]]:
    """One record per connection, its close merged into its open (a connection still
    open has `closed: None`; one whose upstream never answered has only a close)."""
    merged: dict[Any, dict[str, Any]] = {}
    for e in events:
        key = e["seq"] if e["event"] == "open" else (e["connection"] or ("closed", e["seq"]))
        record = merged.setdefault(key, {"proxy": e["proxy"], "client": e["client"],
                                         "upstream": e["upstream"], "opened": e["time"],
                                         "closed": None, "bytes_up": None,
                                         "bytes_down": None, "toxics": [], "how": None})
        if e["event"] == "close":
            record.update(opened=e["opened"], closed=e["time"], bytes_up=e["bytes_up"],
                          bytes_down=e["bytes_down"], toxics=e["toxics"], how=e["how"])
    return sorted(merged.values(), key=lambda r: r["opened"])


def proxy_of(port: str) -> str:
    """The fault layer's proxy in front of a lab port (`lab.config.topology` names)."""
    return port if port == SOCKS_PORT else f"proxy_{port}"


def port_of(proxy: str) -> str:
    """The lab port (or service) a fault layer's proxy stands in front of."""
    return proxy.removeprefix("proxy_")


def of_run(records: list[dict[str, Any]], seen: Iterable[dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """The connections whose fault-layer side is the `connection` of a squid or dante
    record in `seen` (a run's), on the fault proxy in front of that record's port (the
    layer's side towards another service may have the same address)."""
    mine = {(proxy_of(r["port"]), r["connection"]) for r in seen if r.get("connection")}
    return [r for r in records if (r["proxy"], r["upstream"]) in mine]


def of_proxy(records: list[dict[str, Any]], proxy: str) -> list[dict[str, Any]]:
    """The connections of one fault proxy (a fault scenario's own, on this host)."""
    return [r for r in records if r["proxy"] == proxy]


def _size(count: int | None) -> str:
    if count is None:
        return "?"
    return f"{count} B" if count < 1024 else f"{count / 1024:.1f} KiB"


def describe(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no connection tied to this run"
    toxics = list(dict.fromkeys(f"{t['name']} ({t['type']}, {t['stream']})"
                                for r in records for t in r["toxics"]))
    endings = list(dict.fromkeys(r["how"] or "still open" for r in records))
    up = sum(r["bytes_up"] or 0 for r in records)
    down = sum(r["bytes_down"] or 0 for r in records)
    return (f"{len(records)} connection(s): {_size(up)} up, {_size(down)} down; "
            + (f"toxics {', '.join(toxics)}; " if toxics else "no toxic; ")
            + f"ended: {', '.join(endings)}")
