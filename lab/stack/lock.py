"""One `lab up` / `lab down` at a time per project, across processes.

An advisory `flock` on a file in the project's state directory: the kernel
releases it when its holder exits, however it exits (kill -9 included), so a
killed `lab up` can never leave the lock stuck. A second `lab up` for the same
project (two terminals, pytest-xdist workers) waits for the first, then finds
the lab up and attaches to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lab.errors import StackError
from lab.files import lock_exclusively


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
        fd = lock_exclusively(self.path, self.timeout, busy=lambda: self.say(
            f"another lab command is bringing {self.project!r} up or down; waiting for it"))
        if fd is None:
            raise StackError(f"another lab command held {self.project!r} for "
                             f"{self.timeout:.0f} s; is one stuck? ({self.path})")
        self._fd = fd
        self._depth = 1
        return self

    def __exit__(self, *exc_info) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            os.close(self._fd)              # closing the descriptor releases the lock
            self._fd = None
