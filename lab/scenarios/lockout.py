"""The `lockout-budget` scenario's evidence: how many wrong passwords the DC counted for
its user while one client ran.

A wrong password counts once at the DC however the proxy checked it (a Basic header
through an LDAP bind, an NTLM type-3 through winbind), and the DC's count is what
locks a user out of Windows in a company. The count is cleared before the client
runs and after it, and one run at a time holds the user (a file lock in the project's
state directory), so parallel runs (pytest-xdist workers, two `lab matrix`) never
count each other's attempts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lab.clients.directory import Directory
from lab.errors import LabError
from lab.files import lock_exclusively

#: how long a run waits for another holding the user: longer than any client's bound
HOLD_TIMEOUT = 300.0
#: the file whose lock holds the user, in the project's state directory
LOCK_FILE = "lockout-budget.lock"


@dataclass(frozen=True)
class LockoutWatch:
    directory: Directory
    user: str
    lock_file: Path

    @contextmanager
    def watching(self) -> Iterator[LockoutWatch]:
        """The user held for this run alone, its count at zero on entry and on exit."""
        fd = lock_exclusively(self.lock_file, HOLD_TIMEOUT)
        if fd is None:
            raise LabError(f"another lockout-budget run held {self.user} for "
                           f"{HOLD_TIMEOUT:g} s ({self.lock_file})")
        try:
            self.directory.unlock(self.user)
            try:
                yield self
            finally:
                self.directory.unlock(self.user)
        finally:
            os.close(fd)

    def attempts(self) -> int:
        """Wrong passwords the DC has counted for the user since `watching` began."""
        return self.directory.bad_password_count(self.user)
