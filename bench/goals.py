"""The figures the open goals are about, against their goals, in one table at the end of
`make bench` (issue 23's list and issue 21's): a goal missed is marked MISS, a figure
this run did not measure says so."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

#: (what, the figure as `report` named it (a regex), the goal, whether it is met)
GOALS: list[tuple[str, str, str, Callable[[float], bool]]] = [
    ("warm lab up until all healthy (median)", r"^warm lab up, until all healthy \(median\)",
     "<= 2.5 s", lambda v: v <= 2.5),
    ("warm make lab-up, lab check included (median)",
     r"^warm make lab-up, lab check included \(median\)", "<= 4 s", lambda v: v <= 4.0),
    ("lab up after the engine restarted (median)",
     r"^lab up after the engine restarted \(median\)", "<= 2.5 s", lambda v: v <= 2.5),
    ("lab down (median)", r"^lab down \(median\)", "<= 1 s", lambda v: v <= 1.0),
    ("fresh machine: make lab-up (median of 3)",
     r"^fresh machine: make lab-up, last \d+ runs .*\(median\)", "<= 90 s", lambda v: v <= 90),
    ("full lab matrix with curl, wall (median)", r"^lab matrix -- curl, wall \(median\)",
     "<= 6 s", lambda v: v <= 6.0),
    ("idle lab, busy share over no lab", r"^idle lab: busy share over no lab",
     "<= 1.5 points", lambda v: v <= 1.5),
    ("memory of the shared lab (all containers)", r"^memory of the shared lab",
     "<= 300 MB", lambda v: v <= 300),
    ("evidence on / off, unwaited scenarios", r"^evidence on / off", "<= 1.10 x",
     lambda v: v <= 1.10),
    ("four-client grid / curl alone", r"^four-client grid / one client", "< 2 x",
     lambda v: v < 2),
    ("curl matrix beside a lab watch / without", r"^with a lab watch / without",
     "<= 1.05 x", lambda v: v <= 1.05),
]


def table(figures: Mapping[str, float]) -> list[str]:
    """The goals' lines: figure, value, goal, ok or MISS (or not measured)."""
    lines = [f"{'goal':<46} {'now':>10}  {'goal':<14} verdict"]
    for what, pattern, goal, met in GOALS:
        found = [v for name, v in figures.items() if re.search(pattern, name)]
        if not found or math.isnan(found[-1]):
            lines.append(f"{what:<46} {'-':>10}  {goal:<14} not measured in this run")
            continue
        value = found[-1]
        lines.append(f"{what:<46} {value:10.2f}  {goal:<14} {'ok' if met(value) else 'MISS'}")
    return lines
