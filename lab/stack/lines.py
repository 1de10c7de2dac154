"""A live stream of lines from the engine (a container's output, a file followed in it),
read as it comes and ended from any thread: `lab watch`'s followers
(`lab.stack.follow`) and `lab up`'s announcements (`lab.stack.announcements`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator


class Follow:
    """A live stream of lines; `close()` ends it (from any thread)."""

    def __init__(self, chunks: Iterator[bytes], close):
        self._chunks, self._close = chunks, close
        self.closed = False

    def lines(self) -> Iterator[str]:
        """Each complete line as it arrives, until the stream ends or is closed."""
        pending = b""
        try:
            for chunk in self._chunks:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", errors="replace")
        except (OSError, ValueError):        # closed under the reader: the end
            if not self.closed:
                raise

    def first(self, wanted: Callable[[str], bool], bound: float) -> str | None:
        """The first line `wanted` takes, within `bound` seconds; None at the bound or
        the stream's end. The stream is closed either way."""
        ending = threading.Timer(bound, self.close)
        ending.start()
        try:
            return next((line for line in self.lines() if wanted(line)), None)
        finally:
            ending.cancel()
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._close()
