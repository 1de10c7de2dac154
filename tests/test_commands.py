"""lab.commands.run_command: every way another program can go wrong is one LabError."""

import pytest

from lab.commands import run_command
from lab.errors import HostError, KerberosError


def _run(argv, **options):
    return run_command(argv, error=HostError, what="the step", missing="install it",
                       timeout=options.pop("timeout", 10), **options)


def test_output_comes_back_and_input_goes_in():
    proc = _run(["sh", "-c", 'read line; echo "got $line and $EXTRA"'], input="x\n",
                env={"EXTRA": "y"})
    assert proc.stdout == "got x and y\n"


def test_a_missing_program_is_the_callers_error_naming_the_fix():
    with pytest.raises(HostError, match="^install it$"):
        _run(["/nonexistent/program"])


def test_a_program_past_its_bound_is_one_line():
    with pytest.raises(KerberosError, match="the step did not finish within 0.2 s"):
        run_command(["sleep", "5"], error=KerberosError, what="the step", missing="-",
                    timeout=0.2)


def test_a_failure_carries_the_tail_of_stderr_and_hides_secrets():
    script = ('echo "Password for alice: "; for i in $(seq 1 30); do echo "line $i" >&2; done; '
              'echo "bad Secret-1" >&2; exit 3')
    with pytest.raises(HostError) as caught:
        _run(["sh", "-c", script], hide=("Secret-1",))
    message = str(caught.value)
    assert message.startswith("the step failed (exit 3): ")
    assert "line 30" in message and "line 10" not in message       # the tail only
    assert "Secret-1" not in message and "***" in message
    assert "Password for" not in message                             # stdout: a prompt


def test_a_failure_that_says_nothing_on_stderr_shows_stdout():
    with pytest.raises(HostError, match=r"failed \(exit 1\): E: no such package$"):
        _run(["sh", "-c", "echo 'E: no such package'; exit 1"])


def test_without_check_the_exit_code_is_the_callers():
    assert _run(["sh", "-c", "exit 4"], check=False).returncode == 4
