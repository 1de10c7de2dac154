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
        from lab.faults.schema import CLOSE_GRACE

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


class FaultServer:
    """A `lab.faults` server on this host with no proxy yet (they are made through its
    API once the lab's addresses are known): started first thing, so that its own
    start (Python, Twisted: ~0.3-0.45 s on 2 cores) overlaps finding the lab, not the runs."""

    def __init__(self):
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lab.faults", "--api", f"{LOOPBACK}:0", "--seed", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        self._api: Any = None

    def api(self) -> Any:
        """Its API's client (lab.faults.client.FaultClient), once it says where it is."""
        if self._api is None:
            ready, _, _ = select.select([self._process.stdout], [], [], READY_TIMEOUT)
            line = self._process.stdout.readline() if ready else ""
            if not line:
                raise LabError("the fault scenarios' proxy did not start within "
                               f"{READY_TIMEOUT:.0f} s")
            from lab.faults.client import FaultClient

            self._api = FaultClient(f"http://{json.loads(line)['api']}")
        return self._api

    def close(self) -> None:
        """Killed outright: it holds nothing worth a graceful stop (its journal has been
        read), and Twisted's orderly shutdown would cost the matrix ~0.1 s. Again: nothing."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        self._process.stdout.close()


@contextlib.contextmanager
def fault_gateways(endpoints: Endpoints, specs: Sequence, clients: int = 1,
                   server: FaultServer | None = None) -> Iterator[Gateways]:
    """A fault proxy for every spec with a `fault`, for each of `clients`, on `server`
    (started here if not given); the server is stopped when the block ends."""
    faulty = [s for s in specs if s.fault is not None]
    if not faulty:
        if server is not None:
            server.close()
        yield Gateways({})
        return

    def address(port: str) -> str:          # 127.0.0.1, or a remote engine's host
        proxy = endpoints.proxy[port]
        return f"{proxy.connect_address}:{proxy.port}"

    upstream = address(faulty[0].port)
    server = server or FaultServer()
    try:
        api = server.api()
        made = api.populate([{"name": Gateways.name(client, spec.name),
                              "listen": f"{LOOPBACK}:0",
                              "upstream": address(spec.port) if spec.port else upstream}
                             for client in range(clients) for spec in faulty])
        for client in range(clients):
            for spec in faulty:
                for toxic, attributes, stream in spec.fault:
                    api.add_toxic(Gateways.name(client, spec.name), toxic, attributes, stream)
        yield Gateways({proxy["name"]: int(proxy["listen"].rpartition(":")[2])
                        for proxy in made}, api)
    finally:
        server.close()
