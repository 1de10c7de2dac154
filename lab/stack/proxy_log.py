"""squid's `lab.log` in the proxy's container, read for `lab matrix`'s evidence
(`lab.scenarios.evidence` parses it): where it ends now, and what came after."""

from __future__ import annotations

from lab.errors import LabError
from lab.stack.lifecycle import Stack

LOG = "/var/log/squid/lab.log"


class SquidLog:
    """`lab.scenarios.evidence.ProxyLog` for a running lab: two `docker exec`s a matrix."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def _exec(self, command: list[str]) -> str | None:
        """The command's output in the proxy's container; None if it could not say
        (no proxy, the engine gone, a non-zero exit)."""
        try:
            state = self.stack.states().get("proxy")
        except LabError:
            return None
        ran = self.stack.engine.run_in(state, command) if state is not None else None
        return ran[1] if ran is not None and ran[0] == 0 else None

    def mark(self) -> int:
        size = self._exec(["stat", "-c", "%s", LOG])
        return int(size) if size and size.strip().isdigit() else 0

    def since(self, mark: int) -> str | None:
        """None if the log cannot be read, or is shorter than at `mark` (the proxy
        restarted meanwhile: what it saw before is gone)."""
        return self._exec(["sh", "-c", f'[ "$(stat -c %s {LOG})" -ge {mark} ] && '
                           f"tail -c +{mark + 1} {LOG}"])
