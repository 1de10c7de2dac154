"""Cold image builds, warm `lab up` to all-healthy, `lab down`: on a private project."""

from __future__ import annotations

import time

from lab.config import load_config
from lab.stack import SERVICES, Stack, side_by_side_env

PROJECT = "lab-bench"
SUBNET = "172.29.55.0/24"


def private_stack() -> Stack:
    return Stack(load_config(environ=side_by_side_env(PROJECT, SUBNET)))


def run(report, cold: bool = True) -> None:
    stack = private_stack()
    stack.down()
    stack.up()                       # prepares the host, base image; warms the cache
    stack.down()
    if cold:
        for service in SERVICES:
            started = time.monotonic()
            stack.compose("build", "--no-cache", service, timeout=1800)
            report(f"cold build {service}", time.monotonic() - started, "s")
    ups, downs = [], []
    for _ in range(3):
        started = time.monotonic()
        stack.up()
        ups.append(time.monotonic() - started)
        started = time.monotonic()
        stack.down()
        downs.append(time.monotonic() - started)
    report("warm lab up, until all healthy (best of 3)", min(ups), "s")
    report("warm lab up, until all healthy (worst of 3)", max(ups), "s")
    stack.up()
    started = time.monotonic()
    stack.up()
    report("lab up when already up (no-op)", time.monotonic() - started, "s")
    stack.down()
    report("lab down (best of 3)", min(downs), "s")
    report("lab down (worst of 3)", max(downs), "s")
