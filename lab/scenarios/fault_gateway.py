"""Fault scenarios' own proxies: a `lab.faults` server on this host, in front of the
lab's open proxy port, one faulty proxy per scenario, for as long as the clients run.

Fault scenarios (`proxy-latency`, `proxy-stall`, ...) must not slow or break the
other scenarios of a `lab matrix` running beside them, so their faults are not put
on the lab's shared ports: each run (a client's, for a scenario) gets a proxy of its own
on 127.0.0.1, with its toxic set before any client starts, gone when the matrix ends.
Everything such a proxy relays is its run's: its journal (`lab.faults.journal`) is that
run's evidence of which toxic acted.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lab.endpoints import LOOPBACK, Endpoints
from lab.errors import LabError

#: How long the fault server may take to say where it listens.
READY_TIMEOUT = 15.0


@dataclass(frozen=True)
class Gateways:
    """The fault proxies of one matrix, by client (its index) and scenario."""

    ports: dict[str, int]                 # proxy name -> port on 127.0.0.1
    api: Any = None                       # lab.faults.client.FaultClient; None: no proxy

    @staticmethod
    def name(client: int, scenario: str) -> str:
        return f"{client}.{scenario}"

    def of_client(self, client: int) -> dict[str, int]:
        """{scenario name: port} for one client's runs."""
        prefix = f"{client}."
        return {name.removeprefix(prefix): port for name, port in self.ports.items()
                if name.startswith(prefix)}

    def events(self) -> list[dict[str, Any]] | None:
        """Every connection event of the proxies, once each connection has closed (a
        client gone leaves its connection closing for up to `CLOSE_GRACE`: bounded);
        None if they cannot say."""
        if self.api is None:
            return []
        from lab.faults.client import FaultAPIError
        from lab.faults.link import CLOSE_GRACE

        deadline = time.monotonic() + CLOSE_GRACE + 1.0
        while True:
            try:
                events = self.api.connections()["events"]
            except (FaultAPIError, OSError, ValueError, KeyError):
                return None
            opened = {e["seq"] for e in events if e["event"] == "open"}
            closed = {e["connection"] for e in events if e["event"] == "close"}
            if opened <= closed or time.monotonic() > deadline:
                return events
            time.sleep(0.05)     # polling the journal: it has no event to wait on


@contextlib.contextmanager
def fault_gateways(endpoints: Endpoints, specs: Sequence, clients: int = 1
                   ) -> Iterator[Gateways]:
    """A fault proxy for every spec with a `fault`, for each of `clients`."""
    faulty = [s for s in specs if s.fault is not None]
    if not faulty:
        yield Gateways({})
        return

    def address(port: str) -> str:          # 127.0.0.1, or a remote engine's host
        proxy = endpoints.proxy[port]
        return f"{proxy.connect_address}:{proxy.port}"

    upstream = address(faulty[0].port)
    argv = [sys.executable, "-m", "lab.faults", "--api", f"{LOOPBACK}:0", "--seed", "0"]
    for client in range(clients):
        for spec in faulty:
            argv += ["--proxy", Gateways.name(client, spec.name), f"{LOOPBACK}:0",
                     address(spec.port) if spec.port else upstream]
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([server.stdout], [], [], READY_TIMEOUT)
        line = server.stdout.readline() if ready else ""
        if not line:
            raise LabError("the fault scenarios' proxy did not start within "
                           f"{READY_TIMEOUT:.0f} s")
        where = json.loads(line)
        from lab.faults.client import FaultClient

        api = FaultClient(f"http://{where['api']}")
        for client in range(clients):
            for spec in faulty:
                for toxic, attributes, stream in spec.fault:
                    api.add_toxic(Gateways.name(client, spec.name), toxic, attributes, stream)
        yield Gateways({name: int(listen.rpartition(":")[2])
                        for name, listen in where["proxies"].items()}, api)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()
