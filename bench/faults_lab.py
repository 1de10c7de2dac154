"""The fault layer in the real lab: `noauth` requests/s through it (the published
port, no toxics) next to squid's own address on the lab network (the direct path),
and how long `lab fault clear` takes to restore a healthy lab after a toxic and
after a paused DC. Run alone with `python -m bench faults-lab`."""

from __future__ import annotations

import statistics
import time

from twisted.internet import defer, task

from bench.proxy_requests import CONCURRENT, concurrent_rate
from bench.rate import rate
from lab.proxy import ProxyWebClient
from lab.topology import PORTS_BY_NAME

ROUNDS = 5


def run(report, count: int = 1000) -> None:
    from lab.stack import Stack

    stack = Stack()
    endpoints = stack.up()
    page = endpoints.web.proxy_url + "simpleresource"
    through = ("127.0.0.1", endpoints.proxy["noauth"].port)
    direct = (stack.config.address("proxy"), PORTS_BY_NAME["proxy_noauth"].container_port)

    @defer.inlineCallbacks
    def main(reactor):
        rates: dict[tuple[str, str], list[float]] = {}
        for _ in range(ROUNDS):                    # alternate: neither path runs first
            for name, (host, port) in (("through", through), ("direct", direct)):
                client = ProxyWebClient(host, port, reactor=reactor)
                sequential = yield rate(lambda c=client: c.get_page(page), count)
                concurrent = yield concurrent_rate(lambda c=client: c.get_page(page), count)
                yield client.shutdown()
                rates.setdefault((name, "sequential"), []).append(sequential)
                rates.setdefault((name, "concurrent"), []).append(concurrent)
        for mode in ("sequential", "concurrent"):
            label = mode if mode == "sequential" else f"{CONCURRENT} concurrent"
            direct_rate = statistics.median(rates["direct", mode])
            through_rate = statistics.median(rates["through", mode])
            report(f"noauth direct to squid, {label} (median)", direct_rate, "req/s")
            report(f"noauth through the fault layer, {label} (median)", through_rate, "req/s")
            report(f"fault layer / direct, {label} (goal >= 0.80)",
                   through_rate / direct_rate, "ratio")

    task.react(main)


def clear_times(report) -> None:
    """`lab fault clear` after a toxic, and after a paused DC (min/median/max of 5)."""
    from lab import service_faults
    from lab.faults.client import FaultClient
    from lab.stack import Stack

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
        report(f"lab fault clear after {what} (min of {ROUNDS})", min(seconds), "s")
        report(f"lab fault clear after {what} (median)", statistics.median(seconds), "s")
        report(f"lab fault clear after {what} (max)", max(seconds), "s")
