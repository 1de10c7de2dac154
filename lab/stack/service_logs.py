"""The logs of a running lab's parts, read for `lab matrix`'s evidence and `lab watch`
(`lab.scenarios.evidence` parses them): squid's `lab.log`, dante's log and bind's query
log in their containers, and the fault layer's journal through its API."""

from __future__ import annotations

from typing import Any

from lab.errors import LabError
from lab.stack.engine import ServiceState
from lab.stack.lifecycle import Stack

#: what writes it -> (its service, the log it keeps for the lab's readers)
LOGS = {"squid": ("proxy", "/var/log/squid/lab.log"),
        "dante": ("proxy", "/var/log/danted.log"),
        "bind": ("dns", "/var/log/named/queries.log")}


class ServiceLog:
    """`lab.scenarios.evidence.log.Log` for a file in a service's container: the engine
    asked its size to mark it, a `docker exec` to read it. The container is the one the
    service had when first asked: a service recreated since has another log, which
    cannot be read from the first's marks (None)."""

    def __init__(self, stack: Stack, service: str, path: str):
        self.stack, self.service, self.path = stack, service, path
        self._container: ServiceState | None = None

    def _state(self) -> ServiceState | None:
        if self._container is None:
            try:
                self._container = self.stack.states().get(self.service)
            except LabError:
                return None
        return self._container

    def _exec(self, command: list[str]) -> str | None:
        """The command's output in the service's container; None if it could not say
        (no such service, the engine gone, a non-zero exit)."""
        state = self._state()
        ran = self.stack.engine.run_in(state, command) if state is not None else None
        return ran[1] if ran is not None and ran[0] == 0 else None

    def mark(self) -> int | None:
        """The log's size; None if it cannot be known (read from 0, the whole log would
        pass for new: evidence from other runs)."""
        state = self._state()
        return None if state is None else self.stack.engine.file_size(state, self.path)

    def since(self, mark: int) -> str | None:
        """None if the log cannot be read, or is shorter than at `mark` (the service
        restarted, or the log rolled over, meanwhile: what it saw before is gone)."""
        return self._exec(["sh", "-c", f'[ "$(stat -c %s {self.path})" -ge {mark} ] && '
                           f"tail -c +{mark + 1} {self.path}"])


class FaultJournal:
    """`lab.scenarios.evidence.log.Journal` for the lab's fault layer, through its API."""

    def __init__(self, url: str):
        from lab.faults.client import FaultClient

        self.api = FaultClient(url)

    def _ask(self, since: int) -> dict[str, Any] | None:
        from lab.faults.client import FaultAPIError

        try:
            return self.api.connections(since)
        except (FaultAPIError, OSError, ValueError):
            return None

    #: a number past any event the layer will number: only `last` comes back
    _PAST = 10 ** 18 - 1

    def mark(self) -> int | None:
        """The last event's number; None if the layer cannot be asked."""
        answer = self._ask(self._PAST)
        return int(answer["last"]) if answer else None

    def after(self, mark: int) -> tuple[list[dict[str, Any]], int, str | None] | None:
        """(the events after `mark`, the mark to read from next, what could not be
        read: the layer restarted (it numbers from 1 again) or dropped events it could
        not keep); None if the layer cannot be asked."""
        answer = self._ask(mark)
        if answer is None:
            return None
        if answer["last"] < mark:
            answer = self._ask(0)
            return None if answer is None else (list(answer["events"]), int(answer["last"]),
                                                "the fault layer restarted")
        dropped = int(answer.get("first", 1)) - mark - 1
        return (list(answer["events"]), int(answer["last"]),
                f"the fault layer dropped {dropped} events" if dropped > 0 else None)

    def since(self, mark: int) -> list[dict[str, Any]] | None:
        """None if the layer cannot be asked, or if part of what came after `mark` is not
        known (`after`)."""
        read = self.after(mark)
        return None if read is None or read[2] is not None else read[0]
