"""Which services have said they are ready, read from their output as they write it.

Each service prints a line of its own when it believes it is ready (topology's
`ready_line`: bind's "running", the DC's "dc: ready", squid's first listening port, ...).
`lab up` runs a service's health check once it has said so, instead of again and again
before: each check is a `docker exec`, and on two cores the checks of a starting lab
took CPU from the very services they waited for. The line is a hint, never the verdict:
readiness is still the health check passing.
"""

from __future__ import annotations

import re
import threading

from lab.config import topology
from lab.stack.engine import Engine, ServiceState


class Announcements:
    """Follows each given service's output (from its container's last start) until its
    ready line appears; `close()` stops every follower still reading."""

    def __init__(self, engine: Engine, states: list[ServiceState]):
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self._streams: list = []
        self._closed = False
        for state in states:
            pattern = topology.service(state.service).ready_line
            if pattern and state.state == "running":
                threading.Thread(target=self._follow, args=(engine, state, re.compile(pattern)),
                                 name=f"announcements-{state.service}", daemon=True).start()

    def said(self, service: str) -> bool:
        with self._lock:
            return service in self._said

    def _follow(self, engine: Engine, state: ServiceState, pattern: re.Pattern[str]) -> None:
        stream = engine.follow_output(state)
        if stream is None:
            return
        with self._lock:
            if self._closed:
                stream.close()
                return
            self._streams.append(stream)
        pending = b""
        try:
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if any(pattern.search(line.decode(errors="replace")) for line in lines):
                    with self._lock:
                        self._said.add(state.service)
                    break
        except Exception:       # noqa: BLE001  (closed under it, the engine gone: a hint lost)
            pass
        finally:
            stream.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            streams, self._streams = self._streams, []
        for stream in streams:
            try:
                stream.close()
            except Exception:   # noqa: BLE001  (already closed by its reader)
                pass
