"""Leases: the last session out takes down only a lab that sessions started."""

import subprocess
import sys

from lab.testing.leases import Leases


def test_last_one_out_of_a_lab_it_started(tmp_path):
    leases = Leases(tmp_path)
    leases.take(started_it=True)
    assert leases.release() is True
    assert leases.release() is False            # the mark is gone with the first


def test_a_lab_found_up_is_left_up(tmp_path):
    leases = Leases(tmp_path)
    leases.take(started_it=False)
    assert leases.release() is False


def test_another_live_holder_keeps_it_up(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        (tmp_path / "leases").mkdir()
        (tmp_path / "leases" / str(other.pid)).touch()
        leases = Leases(tmp_path)
        leases.take(started_it=True)
        assert leases.release() is False
    finally:
        other.kill()
        other.wait(timeout=10)
    assert Leases(tmp_path).release() is True    # its holder is dead: it no longer counts


def test_a_mark_left_by_a_killed_session_does_not_take_down_a_lab_found_up(tmp_path):
    (tmp_path / "leases").mkdir()
    (tmp_path / "leases" / "started-by-tests").touch()
    (tmp_path / "leases" / "999999999").touch()          # a pid that does not exist
    leases = Leases(tmp_path)
    leases.take(started_it=False)
    assert leases.release() is False
