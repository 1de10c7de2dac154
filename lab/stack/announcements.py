"""Which services have said they are ready, read from their output as they write it.

Each service prints a line of its own when it believes it is ready (topology's
`ready_line`: bind's "running", the DC's "dc: ready", the proxy's "proxy: ready", ...).
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
from lab.stack.lines import Follow


class Announcements:
    """Follows each given service's output (from its container's last start) until its
    ready line appears; `close()` stops every follower still reading. Where the engine
    cannot stop a follower (an ssh:// engine: docker-py cannot cancel such streams), none
    is started and every service counts as having said it: checked each round, as
    before there were lines to wait for."""

    def __init__(self, engine: Engine, states: list[ServiceState]):
        self._said: set[str] = set()
        self._news = threading.Event()        # a service has said its line since `wait`
        self._lock = threading.Lock()
        self._follows: list = []
        self._closed = False
        self.blind = engine.over_ssh
        for state in states:
            if self.blind or state.service not in topology.SERVICE_NAMES \
                    or state.state != "running":
                continue
            pattern = re.compile(topology.service(state.service).ready_line)
            threading.Thread(target=self._follow, args=(engine, state, pattern),
                             name=f"announcements-{state.service}", daemon=True).start()

    def said(self, service: str) -> bool:
        with self._lock:
            return self.blind or service in self._said

    def wait(self, timeout: float) -> None:
        """Until a service says its line (one said since the last wait counts), at
        most `timeout` seconds."""
        self._news.wait(timeout)
        self._news.clear()

    def _follow(self, engine: Engine, state: ServiceState, pattern: re.Pattern[str]) -> None:
        stream = engine.output_stream(state)
        if stream is None:
            return
        follow = Follow(iter(stream), stream.close)
        with self._lock:
            if self._closed:
                _close(follow)
                return
            self._follows.append(follow)
        try:
            for line in follow.lines():
                if pattern.search(line):
                    with self._lock:
                        self._said.add(state.service)
                    self._news.set()
                    break
        except Exception:       # noqa: BLE001  (the engine gone meanwhile: a hint lost)
            pass
        finally:
            _close(follow)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            follows, self._follows = self._follows, []
        for follow in follows:
            _close(follow)


def _close(follow) -> None:
    try:
        follow.close()
    except Exception:           # noqa: BLE001  (closed already, by its reader or the engine)
        pass
