"""`make soak` (`python -m bench.soak --minutes N`): the lab under mixed traffic for an
hour (issue 22), while faults come and go on a schedule, and what it costs the lab.

Clients nobody here wrote (curl, requests, httpx) and ours (`lab fetch`, lab.proxy)
send requests across every proxy port and scheme, HTTP and HTTPS (CONNECT, TLS
inspection, SOCKS5), without pause. Each cycle (5 minutes; a run shorter than two
cycles gets one cycle of its whole length) adds 300 ms of latency to the basic port,
resets every connection to the noauth port, and pauses the DC, each for a while.

A failed request is *expected* when it overlapped a fault that reaches its port (the
reset: noauth; the paused DC: the ports that ask the DC, until GRACE after it is thawed
and healthy), else *unexpected*. Every container's memory and open descriptors are read
at the start, every 5 minutes and at the end (after the traffic stops and the
descriptors settle, bounded), and all of it is written as JSON (`--report`).

Goals: no unexpected error; memory at the end within 10 % of the 5-minute reading (runs
of 10 minutes or more); descriptors back to their start (within 2 % or 8: `_settled`).
Exit 1 when one is missed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench.measure import memory_mb

CYCLE = 300.0
SAMPLE_EVERY = 300.0
#: After the DC is thawed and healthy, how long NTLM and LDAP checks may still fail
#: (winbind reconnects every 2 s; a helper may still be finishing a check it began).
GRACE = 20.0
REQUEST_TIMEOUT = 10.0
SETTLE_TIMEOUT = 90.0
#: The ports whose answers need the DC (ldap binds, winbind, Kerberos is keytab-only
#: but kept: squid's negotiate helper may look a group up).
DC_PORTS = frozenset({"ldap", "ntlm", "negotiate", "group"})


#: Every open descriptor of every process in a container but the counting shell's own
#: (globbing is the shell's: no other process is started to count).
_COUNT_FDS = ('n=0; for f in /proc/[0-9]*/fd/*; do case $f in /proc/$$/*) ;; '
              '*) [ -e "$f" ] || [ -L "$f" ] && n=$((n + 1));; esac; done; echo $n')


@dataclass
class Window:
    what: str
    ports: frozenset[str]
    start: float
    end: float | None = None


@dataclass
class Request:
    client: str
    port: str
    url: str
    start: float
    end: float
    error: str | None           # None: the answer was the page, 200


@dataclass
class Schedule:
    """The faults of one cycle, as (offset, duration) fractions of it."""

    cycle: float
    latency: tuple[float, float] = (0.10, 0.15)
    reset: tuple[float, float] = (0.30, 0.10)
    dc_pause: tuple[float, float] = (0.50, 0.15)


@dataclass
class Soak:
    minutes: float
    endpoints: object
    stack: object
    say: Callable[[str], None]
    requests: list[Request] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: set when the run ends, however: every worker stops, every fault is taken back
    stop: threading.Event = field(default_factory=threading.Event)
    fault_error: str | None = None      # why the fault schedule stopped early, if it did

    # -- the clients ------------------------------------------------------------------

    def _record(self, client: str, port: str, url: str, call: Callable[[], str | None]):
        start = time.monotonic()
        try:
            error = call()
        except Exception as exc:  # noqa: BLE001 - a client's failure is data here
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        with self.lock:
            self.requests.append(Request(client, port, url, start, time.monotonic(), error))

    def curl_cases(self, env: dict[str, str]) -> list[tuple[str, str, list[str]]]:
        from lab.clients.curl import proxy_args

        ep = self.endpoints
        http, https = ep.web.proxy_url + "simpleresource", ep.web.https_proxy_url + "simpleresource"
        cases = [(name, http, proxy_args(port, workgroup=ep.dc.workgroup))
                 for name, port in ep.proxy.items()]
        cases.append(("noauth", https, ["--cacert", ep.web.ca_cert,
                                        *proxy_args(ep.proxy["noauth"])]))
        cases.append(("bump", https, ["--cacert", ep.corporate_ca,
                                      *proxy_args(ep.proxy["bump"])]))
        cases.append(("socks", https, ["--cacert", ep.web.ca_cert,
                                       *proxy_args(ep.proxy["socks"])]))
        return cases

    def curl_worker(self, until: float, env: dict[str, str]) -> None:
        cases = self.curl_cases(env)
        turn = 0
        while time.monotonic() < until and not self.stop.is_set():
            port, url, args = cases[turn % len(cases)]
            turn += 1

            def call(url=url, args=args):
                proc = subprocess.run(
                    ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                     str(REQUEST_TIMEOUT), *args, url], capture_output=True, text=True,
                    env=env, timeout=REQUEST_TIMEOUT + 10)
                if proc.returncode or proc.stdout != "200":
                    return f"curl exit {proc.returncode}, HTTP {proc.stdout or '-'}"
                return None

            self._record("curl", port, url, call)

    def python_worker(self, until: float) -> None:
        """requests and httpx, by turns: Basic-style ports over HTTP, CONNECT for
        HTTPS, SOCKS5 (requests through PySocks)."""
        import httpx
        import requests

        ep = self.endpoints
        http, https = ep.web.proxy_url + "simpleresource", ep.web.https_proxy_url + "simpleresource"

        def proxy_url(name: str, scheme: str = "http") -> str:
            port = ep.proxy[name]
            auth = (f"{quote(port.username, safe='')}:{quote(port.password or '', safe='')}@"
                    if port.username else "")
            return f"{scheme}://{auth}{port.connect_address}:{port.port}"

        cases = []
        for name in ("noauth", "basic", "ldap", "group"):
            cases.append(("requests", name, http, {"http": proxy_url(name)}, None))
            cases.append(("httpx", name, http, proxy_url(name), None))
        cases.append(("requests", "basic", https, {"https": proxy_url("basic")}, ep.web.ca_cert))
        cases.append(("httpx", "bump", https, proxy_url("bump"), ep.corporate_ca))
        cases.append(("requests", "socks", https, {"https": proxy_url("socks", "socks5h")},
                      ep.web.ca_cert))
        turn = 0
        while time.monotonic() < until and not self.stop.is_set():
            client, port, url, proxy, verify = cases[turn % len(cases)]
            turn += 1

            def call(client=client, url=url, proxy=proxy, verify=verify):
                if client == "requests":
                    answer = requests.get(url, proxies=proxy, verify=verify or True,
                                          timeout=REQUEST_TIMEOUT)
                    status = answer.status_code
                else:
                    with httpx.Client(proxy=proxy, verify=verify or True,
                                      timeout=REQUEST_TIMEOUT) as session:
                        status = session.get(url).status_code
                return None if status == 200 else f"HTTP {status}"

            self._record(client, port, url, call)

    def lab_fetch_worker(self, until: float, env: dict[str, str]) -> None:
        """`lab fetch` (lab.proxy, our Twisted client) on the ports it speaks."""
        url = self.endpoints.web.proxy_url + "simpleresource"
        ports = ("noauth", "basic", "ntlm", "negotiate", "ldap", "group")
        turn = 0
        while time.monotonic() < until and not self.stop.is_set():
            port = ports[turn % len(ports)]
            turn += 1

            def call(port=port):
                proc = subprocess.run([sys.executable, "-m", "lab.cli", "fetch", url, "--via",
                                       port], capture_output=True, text=True, env=env,
                                      timeout=REQUEST_TIMEOUT + 20)
                return None if proc.returncode == 0 else (proc.stderr.strip().splitlines()
                                                          or [f"exit {proc.returncode}"])[-1]

            self._record("lab fetch", port, url, call)

    # -- the faults -------------------------------------------------------------------

    def _window(self, what: str, ports: frozenset[str]) -> Window:
        window = Window(what, ports, time.monotonic())
        with self.lock:
            self.windows.append(window)
        return window

    def fault_worker(self, started: float, until: float, schedule: Schedule) -> None:
        from lab.faults.client import FaultClient
        from lab.stack import service_faults

        faults = FaultClient(service_faults.api_url(self.stack))
        at = started
        try:
            while at + schedule.cycle <= until + 1 and not self.stop.is_set():
                for offset, length, run in (
                        (*schedule.latency, self._latency), (*schedule.reset, self._reset),
                        (*schedule.dc_pause, self._dc_pause)):
                    # the schedule's own clock: a fault starts at its time, not on an event
                    if self.stop.wait(max(0.0, at + offset * schedule.cycle - time.monotonic())):
                        return
                    run(faults, length * schedule.cycle)
                at += schedule.cycle
        except Exception as exc:  # noqa: BLE001 - the report says the schedule broke off
            self.fault_error = f"{type(exc).__name__}: {exc}"
            self.say(f"soak: the fault schedule stopped: {self.fault_error}")

    def _latency(self, faults, seconds: float) -> None:
        window = self._window("latency 300 ms on basic", frozenset())
        faults.add_toxic("proxy_basic", "latency", {"latency": 300}, name="soak_latency")
        try:
            self.stop.wait(seconds)      # the schedule: how long the fault lasts
        finally:
            faults.remove_toxic("proxy_basic", "soak_latency")
            window.end = time.monotonic()

    def _reset(self, faults, seconds: float) -> None:
        window = self._window("connections to noauth reset", frozenset({"noauth"}))
        faults.add_toxic("proxy_noauth", "reset_peer", {"timeout": 0}, name="soak_reset")
        try:
            self.stop.wait(seconds)
        finally:
            faults.remove_toxic("proxy_noauth", "soak_reset")
            window.end = time.monotonic()

    def _dc_pause(self, faults, seconds: float) -> None:
        from lab.stack import service_faults

        window = self._window("DC paused", DC_PORTS)
        try:
            with service_faults.paused(self.stack, "dc", self.say):
                self.stop.wait(seconds)
        finally:
            window.end = time.monotonic() + GRACE

    # -- what it costs ----------------------------------------------------------------

    def sample(self, started: float, label: str) -> dict:
        states = self.stack.states()
        client = self.stack.engine.client
        reading = {"label": label, "seconds": round(time.monotonic() - started, 1),
                   "containers": {}}
        for service, state in sorted(states.items()):
            container = client.containers.get(state.container_id)
            fds = container.exec_run(["sh", "-c", _COUNT_FDS]).output.decode().strip()
            reading["containers"][service] = {
                "memory_mb": round(memory_mb(container), 1),
                "fds": int(fds or 0)}
        self.samples.append(reading)
        return reading

    def settle(self, started: float) -> dict:
        """The last reading, once every container's descriptors are back to their
        start (idle connections close), or when SETTLE_TIMEOUT has passed."""
        first = self.samples[0]["containers"]
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            reading = self.sample(started, "end")
            back = all(_settled(first[s]["fds"], reading["containers"][s]["fds"])
                       for s in first)
            if back or time.monotonic() > deadline:
                return reading
            self.samples.pop()
            time.sleep(2)   # polling the engine; bounded by SETTLE_TIMEOUT

    # -- the run ----------------------------------------------------------------------

    def run(self) -> dict:
        from lab.clients.ad import kinit

        seconds = self.minutes * 60
        cycle = CYCLE if seconds >= 2 * CYCLE else seconds
        ep = self.endpoints
        with tempfile.TemporaryDirectory(prefix="lab-soak-") as tmp:
            negotiate = ep.proxy["negotiate"]
            ticket = kinit(negotiate.username, negotiate.password, ep.dc.realm,
                           ep.dc.kerberos.host, ep.dc.kerberos.port, directory=tmp)
            env = {**os.environ, **ticket.env}
            started = time.monotonic()
            until = started + seconds
            self.sample(started, "start")
            workers = [threading.Thread(target=self.curl_worker, args=(until, env)),
                       threading.Thread(target=self.curl_worker, args=(until, env)),
                       threading.Thread(target=self.python_worker, args=(until,)),
                       threading.Thread(target=self.lab_fetch_worker, args=(until, env)),
                       threading.Thread(target=self.fault_worker,
                                        args=(started, until, Schedule(cycle)))]
            for worker in workers:
                worker.daemon = True
                worker.start()
            try:
                next_sample = started + SAMPLE_EVERY
                while alive := [w for w in workers if w.is_alive()]:
                    alive[0].join(timeout=30)      # a progress line at least every 30 s
                    now = time.monotonic()
                    if now >= next_sample and now < until:
                        self.sample(started, f"{int((now - started) // 60)} min")
                        next_sample += SAMPLE_EVERY
                    self.say(self.progress(started, seconds))
            finally:      # Ctrl-C or an error too: no worker left, no fault left in place
                self.stop.set()
                for worker in workers:
                    worker.join(timeout=REQUEST_TIMEOUT + 30)
                from lab.stack import service_faults

                service_faults.restore(self.stack, self.say)
            self.settle(started)
        return self.report(seconds)

    def judge(self) -> tuple[collections.Counter, collections.Counter]:
        expected, unexpected = collections.Counter(), collections.Counter()
        for request in self.requests:
            if request.error is None:
                continue
            kind = f"{request.client} via {request.port}: {request.error}"
            hit = any(request.port in w.ports and request.end >= w.start
                      and request.start <= (w.end or float("inf")) for w in self.windows)
            (expected if hit else unexpected)[kind] += 1
        return expected, unexpected

    def progress(self, started: float, seconds: float) -> str:
        expected, unexpected = self.judge()
        elapsed = min(time.monotonic() - started, seconds)
        return (f"soak: {_clock(elapsed)}/{_clock(seconds)}  {len(self.requests)} requests  "
                f"errors: {sum(expected.values())} expected, "
                f"{sum(unexpected.values())} unexpected")

    def report(self, seconds: float) -> dict:
        expected, unexpected = self.judge()
        by_client = collections.Counter(r.client for r in self.requests)
        start, end = self.samples[0]["containers"], self.samples[-1]["containers"]
        five = next((s["containers"] for s in self.samples if s["label"] == "5 min"), None)
        growth = {s: round(100 * (end[s]["memory_mb"] - five[s]["memory_mb"])
                           / max(five[s]["memory_mb"], 1), 1) for s in end} if five else None
        goals = {
            "the fault schedule ran to its end": self.fault_error is None,
            "no unexpected error": not unexpected,
            "descriptors back to their start": all(_settled(start[s]["fds"], end[s]["fds"])
                                                   for s in start),
            "memory within 10 % of the 5-minute reading": (
                None if growth is None else all(g < 10 for g in growth.values())),
        }
        return {"minutes": seconds / 60, "requests": len(self.requests),
                "fault_schedule_error": self.fault_error,
                "requests_by_client": dict(by_client),
                "errors": {"expected": dict(expected), "unexpected": dict(unexpected)},
                "faults": [asdict(w) | {"ports": sorted(w.ports)} for w in self.windows],
                "memory_growth_after_5_min_percent": growth,
                "samples": self.samples, "goals": goals}


def _settled(start: int, now: int) -> bool:
    """Back to `start`: within 2 % or 8 descriptors of it, what a pool of helper
    processes (samba's, squid's) and persistent connections vary by at rest. A leak
    grows with the traffic, hour after hour, far past that."""
    return now <= start + max(8, start // 50)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def main(argv: list[str] | None = None) -> int:
    from lab.config.discovery import load_config
    from lab.stack import Stack

    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float,
                        default=float(os.environ.get("SOAK_MINUTES", 60)))
    parser.add_argument("--report", type=Path, default=Path("soak-report.json"))
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    stack = Stack(load_config())
    soak = Soak(args.minutes, stack.endpoints(), stack, say)
    say(f"soak: {args.minutes:g} min of traffic against lab {stack.config.project!r}, "
        f"faults every {min(CYCLE, args.minutes * 60):g} s; report: {args.report}")
    report = soak.run()
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    for service in report["samples"][0]["containers"]:
        first, last = report["samples"][0]["containers"][service], \
            report["samples"][-1]["containers"][service]
        say(f"soak: {service:<7} memory {first['memory_mb']:7.1f} -> {last['memory_mb']:7.1f} MB"
            f"  descriptors {first['fds']:5d} -> {last['fds']:5d}")
    for kind, count in report["errors"]["unexpected"].items():
        say(f"soak: UNEXPECTED {count} x {kind}")
    for goal, met in report["goals"].items():
        say(f"soak: goal {goal}: {'met' if met else 'not judged' if met is None else 'MISSED'}")
    return 0 if all(met is not False for met in report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
