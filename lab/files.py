"""Writing files that others read while we write: whole or not at all, private from birth.

Every file `lab` leaves for other processes (CA bundles and ticket caches a client
reads, the PAC the web service serves, TLS keys, the images' build context) is
written here: to a temporary file beside it, created with its final mode (a key
is never readable by others, not even for a moment), then renamed over the old one,
so a reader sees the old content or the new, never half of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
