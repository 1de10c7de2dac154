"""Fault scenarios' own proxies: a `lab.faults` server on this host, in front of the
lab's open proxy port, one faulty proxy per scenario, for as long as the clients run.

Fault scenarios (`proxy-latency`, `proxy-stall`, ...) must not slow or break the
other scenarios of a `lab matrix` running beside them, so their faults are not put
on the lab's shared ports: each gets a proxy of its own on 127.0.0.1, with its toxic
set before any client starts, gone when the run ends.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
from collections.abc import Iterator, Sequence

from lab.endpoints import LOOPBACK, Endpoints
from lab.errors import LabError

#: How long the fault server may take to say where it listens.
READY_TIMEOUT = 15.0


@contextlib.contextmanager
def fault_gateways(endpoints: Endpoints, specs: Sequence) -> Iterator[dict[str, int]]:
    """{scenario name: port on 127.0.0.1} for every spec with a `fault`; {} for none."""
    faulty = [s for s in specs if s.fault is not None]
    if not faulty:
        yield {}
        return

    def address(port: str) -> str:          # 127.0.0.1, or a remote engine's host
        proxy = endpoints.proxy[port]
        return f"{proxy.connect_address}:{proxy.port}"

    upstream = address(faulty[0].port)
    argv = [sys.executable, "-m", "lab.faults", "--api", f"{LOOPBACK}:0", "--seed", "0"]
    for spec in faulty:
        argv += ["--proxy", spec.name, f"{LOOPBACK}:0",
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
        for spec in faulty:
            for toxic, attributes, stream in spec.fault:
                api.add_toxic(spec.name, toxic, attributes, stream)
        yield {name: int(listen.rpartition(":")[2])
               for name, listen in where["proxies"].items()}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        server.stdout.close()
