"""The fault layer in the real lab: `noauth` requests/s (no toxics) on three paths,
and how long `lab fault clear` takes to restore a healthy lab after a toxic and
after a paused DC. Run alone with `python -m bench faults-lab`.

- squid: the host straight to squid's address on the lab network (the floor: no
  docker userland proxy, no fault layer);
- the layer alone: the host straight to the fault layer's address on the lab network
  (its container port), which forwards to squid: the layer's own cost;
- published: 127.0.0.1:<published port>, what clients use: docker's userland proxy
  (docker-proxy), then the layer.

Ratios are to the squid path, sequential (one request at a time, keep-alive) and
`CONCURRENT` at once; rounds alternate the paths so none always runs first."""

from __future__ import annotations

import statistics
import time

from twisted.internet import defer, task

from bench.proxy_requests import CONCURRENT, concurrent_rate
from bench.rate import rate, spread
from lab.config.topology import PORTS_BY_NAME
from lab.proxy import ProxyWebClient

ROUNDS = 5


def run(report, count: int = 1000) -> None:
    from lab.stack.lifecycle import Stack

    stack = Stack()
    endpoints = stack.up()
    page = endpoints.web.proxy_url + "simpleresource"
    cport = PORTS_BY_NAME["proxy_noauth"].container_port
    paths = {"squid": (stack.config.address("proxy"), cport),
             "layer": (stack.config.address("faults"), cport),
             "published": ("127.0.0.1", endpoints.proxy["noauth"].port)}
    names = {"squid": "squid's lab address",
             "layer": "fault layer's lab address",
             "published": "published port"}

    @defer.inlineCallbacks
    def main(reactor):
        rates: dict[tuple[str, str], list[float]] = {}
        order = list(paths)
        for turn in range(ROUNDS):
            for name in order[turn % 3:] + order[:turn % 3]:      # rotate who goes first
                host, port = paths[name]
                client = ProxyWebClient(host, port, reactor=reactor)
                sequential = yield rate(lambda c=client: c.get_page(page), count)
                concurrent = yield concurrent_rate(lambda c=client: c.get_page(page), count)
                yield client.shutdown()
                rates.setdefault((name, "sequential"), []).append(sequential)
                rates.setdefault((name, "concurrent"), []).append(concurrent)
        for mode in ("sequential", "concurrent"):
            label = mode if mode == "sequential" else f"{CONCURRENT} concurrent"
            floor = statistics.median(rates["squid", mode])
            for name in paths:
                report(f"noauth via {names[name]}, {label}",
                       statistics.median(rates[name, mode]), "req/s")
            for name in ("layer", "published"):
                report(f"  {name} / squid, {label}" + (" (goal >= 0.80)" if name == "layer"
                                                       else " (+ docker-proxy)"),
                       statistics.median(rates[name, mode]) / floor, "ratio")

    task.react(main)


def clear_times(report) -> None:
    """`lab fault clear` after a toxic, and after a paused DC (min/median/max of 5)."""
    from lab.faults.client import FaultClient
    from lab.stack import service_faults
    from lab.stack.lifecycle import Stack

    stack = Stack()
    stack.up()
    api = FaultClient(service_faults.api_url(stack))
    for what, break_it in (("a toxic", lambda: api.add_toxic("proxy_basic", "latency",
                                                             {"latency": 1000})),
                           ("a paused DC", lambda: service_faults.pause(stack, "dc"))):
        seconds = []
        for _ in range(ROUNDS):
            break_it()
            started = time.monotonic()
            service_faults.restore(stack)
            seconds.append(time.monotonic() - started)
        spread(report, f"lab fault clear after {what}", seconds)
