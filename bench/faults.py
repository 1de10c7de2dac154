"""Requests per second through the fault layer with no toxics, next to the direct
path: the cost of `python -m lab.faults` in front of a service (issue 13's goal:
at least 0.80 of the direct rate). Keep-alive, one at a time and `CONCURRENT`
at once, against a local origin (lab.web.server on 127.0.0.1, or $BENCH_FAULTS_ORIGIN
as host:port). Origin and fault server each run in a process of their own, as
they will in the lab. Run alone with `python -m bench faults`."""

from __future__ import annotations

import json
import os
import statistics

from twisted.internet import defer, task
from twisted.web import client

from bench.proxy_requests import CONCURRENT, concurrent_rate
from bench.rate import rate
from harness.processes import DEADLINE, start, wait_for_line

ROUNDS = 5


def run(report, count: int = 1000) -> None:
    processes = []
    try:
        origin = os.environ.get("BENCH_FAULTS_ORIGIN")
        if not origin:
            processes.append(start("lab.web", "--interface", "127.0.0.1", "--port", "0",
                                    "--https-port", "0"))
            origin = wait_for_line(processes[-1], "serving").split()[-3].split("//")[1].rstrip("/")
        processes.append(start("lab.faults", "--proxy", "web", "127.0.0.1:0", origin,
                                "--api", "127.0.0.1:0"))
        through = json.loads(wait_for_line(processes[-1], '"api"'))["proxies"]["web"]

        @defer.inlineCallbacks
        def measure(reactor, address):
            pool = client.HTTPConnectionPool(reactor, persistent=True)
            pool.maxPersistentPerHost = CONCURRENT
            agent = client.Agent(reactor, pool=pool)
            url = f"http://{address}/simpleresource".encode()

            def fetch():
                return agent.request(b"GET", url).addCallback(client.readBody)

            result = {"seq": (yield rate(fetch, count)),
                      "conc": (yield concurrent_rate(fetch, count))}
            yield pool.closeCachedConnections()
            return result

        @defer.inlineCallbacks
        def main(reactor):
            samples: dict[tuple[str, str], list[float]] = {}
            for turn in range(ROUNDS):      # alternating: whichever runs first runs slower
                pairs = [("direct", origin), ("fault layer", through)]
                for label, address in pairs if turn % 2 == 0 else pairs[::-1]:
                    for mode, value in (yield measure(reactor, address)).items():
                        samples.setdefault((label, mode), []).append(value)
            rates = {key: statistics.median(values) for key, values in samples.items()}
            for mode, name in (("seq", "sequential"), ("conc", f"{CONCURRENT} concurrent")):
                report(f"direct to origin, {name}, median of {ROUNDS}",
                       rates["direct", mode], "req/s")
                report(f"through lab.faults (no toxics), {name}, median of {ROUNDS}",
                       rates["fault layer", mode], "req/s")
                report(f"  fault layer / direct, {name} (goal >= 0.80)",
                       rates["fault layer", mode] / rates["direct", mode], "ratio")

        task.react(main)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=DEADLINE)
