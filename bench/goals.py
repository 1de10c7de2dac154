"""The figures the open goals are about, against their goals, in one table at the end of
`make bench` (issue 23's list and issue 21's): a goal missed is marked MISS, a figure
this run did not measure says so. Where the bench measures a goal's floor (`bench.floors`,
the matrix's slowest scenario alone), it is printed beside: a goal under its floor
cannot be met by this lab on this machine."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple


class Goal(NamedTuple):
    what: str
    figure: str                  # the figure as `report` named it: a regex
    goal: str
    met: Callable[[float], bool]
    floor: str | None = None     # the figure that measures its floor, if any: a regex


_LAB_UP_FLOOR = r"^warm lab up's floor, the larger"

GOALS: list[Goal] = [
    Goal("warm lab up until all healthy (median)",
         r"^warm lab up, until all healthy \(median\)", "<= 2.5 s", lambda v: v <= 2.5,
         _LAB_UP_FLOOR),
    Goal("warm make lab-up, lab check included (median)",
         r"^warm make lab-up, lab check included \(median\)", "<= 4 s", lambda v: v <= 4.0,
         r"^warm make lab-up's floor"),
    Goal("lab up after the engine restarted (median)",
         r"^lab up after the engine restarted \(median\)", "<= 2.5 s", lambda v: v <= 2.5,
         r"^lab up after the engine restarted, its floor"),
    Goal("lab down (median)", r"^lab down \(median\)", "<= 1 s", lambda v: v <= 1.0,
         r"^lab down's floor: .*\(median\)"),
    Goal("fresh machine: make lab-up (median of 3)",
         r"^fresh machine: make lab-up, last \d+ runs .*\(median\)", "<= 90 s",
         lambda v: v <= 90),
    Goal("full lab matrix with curl, wall (median)", r"^lab matrix -- curl, wall \(median\)",
         "<= 6 s", lambda v: v <= 6.0, r"^lab matrix's floor"),
    Goal("idle lab, busy share over no lab", r"^idle lab: busy share over no lab",
         "<= 1.5 points", lambda v: v <= 1.5),
    Goal("memory of the shared lab (all containers)", r"^memory of the shared lab",
         "<= 300 MB", lambda v: v <= 300),
    Goal("evidence on / off, unwaited scenarios", r"^evidence on / off", "<= 1.10 x",
         lambda v: v <= 1.10),
    Goal("four-client grid / curl alone", r"^four-client grid / one client", "< 2 x",
         lambda v: v < 2),
    Goal("curl matrix beside a lab watch / without", r"^with a lab watch / without",
         "<= 1.05 x", lambda v: v <= 1.05),
]


def _last(figures: Mapping[str, float], pattern: str | None) -> float | None:
    found = [v for name, v in figures.items() if pattern and re.search(pattern, name)]
    return None if not found or math.isnan(found[-1]) else found[-1]


def table(figures: Mapping[str, float]) -> list[str]:
    """The goals' lines: figure, value, goal, ok or MISS (or not measured), and the
    measured floor where there is one (a MISS over a floor above the goal says so)."""
    lines = [f"{'goal':<46} {'now':>10}  {'goal':<14} {'floor':>7}  verdict"]
    for goal in GOALS:
        value, floor = _last(figures, goal.figure), _last(figures, goal.floor)
        shown = "-" if floor is None else f"{floor:.2f}"
        if value is None:
            lines.append(f"{goal.what:<46} {'-':>10}  {goal.goal:<14} {shown:>7}  "
                         "not measured in this run")
            continue
        verdict = "ok" if goal.met(value) else "MISS"
        if floor is not None and floor > value:
            verdict += " (the floor measured above the figure: not a floor)"
        elif verdict == "MISS" and floor is not None and not goal.met(floor):
            verdict = "MISS (its floor misses too)"
        lines.append(f"{goal.what:<46} {value:10.2f}  {goal.goal:<14} {shown:>7}  {verdict}")
    return lines
