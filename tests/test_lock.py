"""The per-project lock: one holder at a time, and a killed holder never leaves it stuck."""

import os
import signal
import subprocess
import sys

import pytest

from lab.errors import StackError
from lab.stack.lock import ProjectLock

HOLDER = """
import sys
from pathlib import Path
from lab.stack.lock import ProjectLock
with ProjectLock(Path(sys.argv[1]), "p"):
    print("held", flush=True)
    sys.stdin.read()            # hold until told (or killed)
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.stdout.readline() == "held\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_second_holder_waits_and_says_so(tmp_path, holder):
    said = []
    with pytest.raises(StackError, match="another lab command held 'p'"):
        with ProjectLock(tmp_path, "p", timeout=0.3, say=said.append):
            pass
    assert said and "waiting" in said[0]


def test_kill_9_of_the_holder_frees_the_lock(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with ProjectLock(tmp_path, "p", timeout=5):
        pass


def test_released_when_the_holder_finishes(tmp_path, holder):
    holder.stdin.close()
    holder.wait(timeout=10)
    with ProjectLock(tmp_path, "p", timeout=5):
        pass


def test_reentrant_within_one_process(tmp_path):
    lock = ProjectLock(tmp_path, "p", timeout=1)
    with lock, lock:
        pass
    with ProjectLock(tmp_path, "p", timeout=1):
        pass
