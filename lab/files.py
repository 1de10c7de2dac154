"""Writing files that others read while we write: whole or not at all, private from birth;
and holding a file's lock against other processes, for a bounded time.

Every file `lab` leaves for other processes (CA bundles and ticket caches a client
reads, the PAC the web service serves, TLS keys, the images' build context) is
written here: to a temporary file beside it, created with its final mode (a key
is never readable by others, not even for a moment), then renamed over the old one,
so a reader sees the old content or the new, never half of it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: `flock` has no timeout and no notification: try, then retry at this pace until
#: the deadline (a bounded wait on a kernel resource).
_LOCK_RETRY = 0.05


def lock_exclusively(path: Path, timeout: float,
                     busy: Callable[[], None] = lambda: None) -> int | None:
    """An exclusive `flock` on `path` (created if need be), waited for at most `timeout`
    s: the open descriptor (closing it releases the lock; so does the holder's exit,
    kill -9 included), or None at the deadline. `busy` is called once, when the lock is
    found held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if not told:
                busy()
                told = True
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(_LOCK_RETRY)


def write_atomic(path: Path, content: bytes, mode: int = 0o644) -> Path:
    """Replace `path` with `content` in one rename; the file has `mode` throughout."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_if_changed(path: Path, content: bytes, mode: int = 0o644) -> Path:
    """`write_atomic`, skipped when `path` already holds `content` (its mode is set
    all the same): readers that watch the file's time see no change."""
    if path.is_file() and path.read_bytes() == content:
        path.chmod(mode)
        return path
    return write_atomic(path, content, mode)
