"""Where a part of the lab writes what it sees, as `lab matrix` and `lab watch` read it:
a log to read from a mark on (squid's, dante's, bind's: `lab.stack.service_logs`), or
the fault layer's numbered journal (`lab.faults.journal`)."""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    """A log file of a running lab."""

    def mark(self) -> int | None:
        """Where the log ends now; None if that cannot be known (then it is not read)."""

    def since(self, mark: int) -> str | None:
        """What was written after `mark`; None if that cannot be known."""


class ReadEarly:
    """A log read while some runs still went on (`read_early`), kept with its size from
    just before that read: everything up to that size is in the text. Asked again from
    the same mark, it gives that text as long as the log still has that size (a
    `mark()`: on the lab, a stat), and reads the log again once it has not."""

    def __init__(self, log: Log, mark: int):
        self.log, self.read_from = log, mark
        self.size = log.mark()
        self.text = log.since(mark) if self.size is not None else None

    def mark(self) -> int | None:
        return self.log.mark()

    def since(self, mark: int) -> str | None:
        if mark == self.read_from and self.text is not None and self.log.mark() == self.size:
            return self.text
        return self.log.since(mark)


class Journal(Protocol):
    """A fault layer's connection events."""

    def mark(self) -> int | None:
        """The number of the last event now; None if the layer cannot be asked."""

    def since(self, mark: int) -> list[dict[str, Any]] | None:
        """The events after `mark`; None if the fault layer cannot be asked."""


def from_inside(connection: str | None) -> bool:
    """A connection from loopback: a part of the lab checking itself (its health check,
    inside its own container), not a client."""
    return bool(connection) and connection.startswith("127.")
