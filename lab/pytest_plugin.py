"""pytest plugin (entry point `pytest11`): fixtures for the lab and for tidy servers.

Loading this plugin imports no reactor: everything Twisted is imported inside
the fixtures that need it, so it coexists with pytest-twisted's reactor choice.
"""

from __future__ import annotations

import os

import pytest


def _say(message: str) -> None:
    print(f"lab: {message}", flush=True)


@pytest.fixture(scope="session")
def lab_stack():
    """The running lab's `Stack`: attaches to a lab that is up (and leaves it up),
    or starts one and takes it down at the end of the session (LAB_KEEP=1 keeps it)."""
    from lab.stack import Stack

    stack = Stack()
    was_up = stack.is_up()
    stack.up(say=_say)
    yield stack
    if not was_up and not os.environ.get("LAB_KEEP"):
        stack.down(say=_say)


@pytest.fixture(scope="session")
def lab_endpoints(lab_stack) -> dict:
    """`lab status --json` of the running lab, as a dict."""
    return lab_stack.endpoints()
