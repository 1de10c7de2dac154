"""A live stream of lines from the engine (a container's output, a file followed in it),
read as it comes and ended from any thread: `lab watch`'s followers
(`lab.stack.follow`) and `lab up`'s announcements (`lab.stack.announcements`)."""

from __future__ import annotations

from collections.abc import Iterator


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

    def close(self) -> None:
        self.closed = True
        self._close()
