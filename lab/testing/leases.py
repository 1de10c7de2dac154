"""Who is using a lab that a test session started, so the last one out takes it down.

pytest-xdist runs one session per worker; each takes a lease (a file named after
its pid) under the project's lock. A session that found the lab down and brought
it up marks it `started`; at the end, the session that releases the last live
lease takes the lab down if it was so marked. Leases of processes that died
(kill -9) do not count: their pid is gone.
"""

from __future__ import annotations

import os
from pathlib import Path

_STARTED = "started-by-tests"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Leases:
    def __init__(self, state_dir: Path):
        self.dir = state_dir / "leases"

    def take(self, started_it: bool) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not started_it and not self._others():
            # a lab found up with nobody holding it was not started by these sessions
            # (a mark left by a killed session must not make us take it down)
            (self.dir / _STARTED).unlink(missing_ok=True)
        (self.dir / str(os.getpid())).touch()
        if started_it:
            (self.dir / _STARTED).touch()

    def _others(self) -> list[Path]:
        return [p for p in self.dir.glob("[0-9]*")
                if int(p.name) != os.getpid() and alive(int(p.name))]

    def release(self) -> bool:
        """Give up ours; True when nobody else holds one and the lab was started by a
        test session (so it is ours to take down)."""
        (self.dir / str(os.getpid())).unlink(missing_ok=True)
        started = self.dir / _STARTED
        if self._others() or not started.exists():
            return False
        started.unlink()
        return True
