"""One `lab up` / `lab down` at a time per project, across processes.

An advisory `flock` on a file in the project's state directory: the kernel
releases it when its holder exits, however it exits (kill -9 included), so a
killed `lab up` can never leave the lock stuck. A second `lab up` for the same
project (two terminals, pytest-xdist workers) waits for the first, then finds
the lab up and attaches to it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from lab.errors import StackError

#: `flock` has no timeout and no notification: try, then retry at this pace until
#: the deadline (a bounded wait on a kernel resource).
_RETRY = 0.1


class ProjectLock:
    def __init__(self, state_dir: Path, project: str, timeout: float = 600,
                 say: Callable[[str], None] = lambda _m: None):
        self.path = state_dir / "lock"
        self.project = project
        self.timeout = timeout
        self.say = say
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> ProjectLock:
        if self._depth:                     # re-entrant within one Stack (up calls down)
            self._depth += 1
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    self.say(f"another lab command is bringing {self.project!r} up or down; "
                             "waiting for it")
                    told = True
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise StackError(f"another lab command held {self.project!r} for "
                                     f"{self.timeout:.0f} s; is one stuck? ({self.path})"
                                     ) from None
                time.sleep(_RETRY)
        self._fd = fd
        self._depth = 1
        return self

    def __exit__(self, *exc_info) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)              # closing the descriptor releases the lock
            self._fd = None
