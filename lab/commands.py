"""Running another program to completion, with every way it can go wrong said in one line.

kinit, docker compose, apt-get and the like: each runs bounded in time, without our
stdin, in a session of its own (a Ctrl-C meant for `lab` is handled by `lab`, which
then takes its own steps); a program that is not installed, one that overruns its
bound, and one that exits non-zero each become the caller's `LabError` subclass, whose
message names the fix or carries the tail of the program's output. Secrets the caller
names never reach that message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence

from lab.errors import LabError
from lab.masking import Masker

TAIL_LINES = 15


def run_command(argv: Sequence[str], *, error: type[LabError], what: str, missing: str,
                timeout: float, check: bool = True, input: str | None = None,
                env: Mapping[str, str] | None = None, cwd: str | None = None,
                hide: Sequence[str] = (), on_timeout: str | None = None,
                ) -> subprocess.CompletedProcess[str]:
    """Run `argv`; its output is captured as text. `what` names the step in messages,
    `missing` is the whole message when the program is not installed, `on_timeout`
    replaces the default one; `env` is added to this process's environment; `hide`
    lists strings (passwords) masked in any message. With `check`, a non-zero exit
    raises `error` with the tail of the output."""
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})},
                              stdin=None if input is not None else subprocess.DEVNULL,
                              start_new_session=True)
    except FileNotFoundError:
        raise error(missing) from None
    except subprocess.TimeoutExpired:
        raise error(on_timeout or f"{what} did not finish within {timeout:g} s") from None
    if check and proc.returncode != 0:
        # what went wrong is on stderr; stdout holds prompts and progress (kinit's
        # "Password for ...", apt's reading of lists) unless there is nothing else
        output = (proc.stderr.strip() or proc.stdout).strip()
        output = Masker.of((None, secret) for secret in hide).text(output)
        raise error(f"{what} failed (exit {proc.returncode}): {_tail(output)}")
    return proc


def _tail(output: str) -> str:
    return "\n".join(output.strip().splitlines()[-TAIL_LINES:]) or "(no output)"


class Background:
    """Another program running while `lab` does something else (a build with progress
    lines, a root file system made beside apt), on the same terms as `run_command`:
    in a session of its own, without our stdin, its output kept in a temporary file for
    the error's tail. `stop()` ends it and everything it started, whatever state it is
    in: callers put it in a `finally`."""

    def __init__(self, argv: Sequence[str], *, error: type[LabError], what: str,
                 missing: str, env: Mapping[str, str] | None = None, cwd: str | None = None):
        self.error, self.what = error, what
        self._output = tempfile.TemporaryFile(mode="w+")
        try:
            self._proc = subprocess.Popen(list(argv), cwd=cwd,
                                          env={**os.environ, **(env or {})},
                                          stdin=subprocess.DEVNULL, stdout=self._output,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError:
            self._output.close()
            raise error(missing) from None

    def wait(self, timeout: float, meanwhile: Callable[[], None] = lambda: None) -> None:
        """Until it has ended, calling `meanwhile` about every second; `error` if it
        is still running after `timeout` seconds (it is left running: `stop()`), or
        ended non-zero (with the tail of its output)."""
        waited = 0.0
        while True:
            try:
                code = self._proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                waited += 1.0
                if waited > timeout:
                    raise self.error(f"{self.what} did not finish within {timeout:g} s"
                                     ) from None
                meanwhile()
        if code != 0:
            self._output.seek(0)
            raise self.error(f"{self.what} failed (exit {code}): "
                             f"{_tail(self._output.read())}")

    def stop(self) -> None:
        """Its whole session stopped (TERM, then KILL after 10 s) if it still runs;
        its output file closed."""
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._output.close()
