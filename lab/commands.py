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
import subprocess
from collections.abc import Mapping, Sequence

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
        tail = "\n".join(output.splitlines()[-TAIL_LINES:]) or "(no output)"
        raise error(f"{what} failed (exit {proc.returncode}): {tail}")
    return proc
