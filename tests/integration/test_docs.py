"""Every sh and python snippet of README.md and docs/ runs against the lab, as a user
would paste it: `lab` on PATH (this checkout's venv), in a scratch directory (so `lab`
finds no lab.toml there and uses the packaged default: project `lab`, the shared lab),
bounded in time. Snippets marked `exclusive` change the shared lab and run in the
serial phase; `skip`s are listed with their reasons (tests/test_docs.py checks them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docsnippets import REPO, Snippet, all_snippets

SNIPPETS = all_snippets()
TIMEOUT = 180


def _environ(scratch: Path) -> dict[str, str]:
    venv = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LAB_", "PYTEST_", "COV_")) and k != "PYTHONPATH"}
    env.update(PATH=f"{venv}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv.parent),
               HOME=os.environ.get("HOME", str(scratch)), LAB_REPO=str(REPO))
    return env


def _command(snippet: Snippet, scratch: Path) -> list[str]:
    if snippet.language == "sh":
        return ["bash", "-euo", "pipefail", "-c", snippet.code]
    module = scratch / ("test_snippet.py" if snippet.mode in ("pytest", "trial")
                        else "snippet.py")
    module.write_text(snippet.code)
    if snippet.mode == "pytest":
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)]
    if snippet.mode == "trial":
        return [sys.executable, "-m", "twisted.trial", "test_snippet"]
    return [sys.executable, str(module)]


def _run(snippet: Snippet, scratch: Path) -> None:
    proc = subprocess.run(_command(snippet, scratch), cwd=scratch, env=_environ(scratch),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (f"{snippet.id} exited {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@pytest.mark.timeout(TIMEOUT + 30)
@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.mode != "skip" and not s.exclusive],
                         ids=lambda s: s.id)
def test_snippet(snippet, lab_endpoints, tmp_path):
    _run(snippet, tmp_path)


@pytest.mark.exclusive
@pytest.mark.timeout(TIMEOUT + 30)
@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.mode != "skip" and s.exclusive],
                         ids=lambda s: s.id)
def test_exclusive_snippet(snippet, lab_endpoints, lab_faults, tmp_path):
    _run(snippet, tmp_path)             # lab_faults heals whatever the snippet broke
