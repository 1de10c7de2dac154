"""harness.together: commands side by side, their lines prefixed, the first failure's code."""

import subprocess
import sys


def together(*args):
    return subprocess.run([sys.executable, "-m", "harness.together", *args],
                          capture_output=True, text=True, timeout=30)


def test_lines_are_prefixed_and_both_run():
    proc = together("one=echo a", "two=sh -c 'echo b; echo c'")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["[one] a", "[two] b", "[two] c"]


def test_a_failure_is_the_exit_code_and_named_after_the_others_finish():
    proc = together("bad=sh -c 'exit 3'", "good=sh -c 'echo done'")
    assert proc.returncode == 3
    assert "[good] done" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "[bad] failed (exit 3): sh -c 'exit 3'"


def test_bad_arguments_are_one_line():
    proc = together("no-equals-sign")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "is not NAME=COMMAND" in proc.stderr


def test_ctrl_c_lets_each_command_tear_down():
    """SIGINT to the runner reaches every command as SIGINT (pytest's teardown then
    runs), and the runner waits for it."""
    import signal

    script = "trap 'echo cleaned; exit 1' INT; echo ready; while :; do sleep 0.1; done"
    runner = subprocess.Popen([sys.executable, "-m", "harness.together", f"a=sh -c \"{script}\""],
                              stdout=subprocess.PIPE, text=True)
    assert runner.stdout.readline() == "[a] ready\n"          # an event, not a sleep
    runner.send_signal(signal.SIGINT)
    rest = runner.stdout.read()
    assert runner.wait(timeout=30) == 130
    assert "[a] cleaned" in rest
