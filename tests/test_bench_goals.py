"""`make bench`'s goals table (bench.goals): each goal against the figure of its name."""

from bench.goals import GOALS, table


def test_each_goal_finds_its_figure_and_says_ok_miss_or_not_measured():
    figures = {"lab down (median)": 0.9, "four-client grid / one client (goal < 2)": 2.2,
               "warm lab up, until all healthy (median)": float("nan"),
               "  last fresh run: make lab-up total (lab check passed; goal 180)": 84.0,
               "fresh machine: make lab-up, last 3 runs (abc1234) (median)": 96.5}
    lines = table(figures)
    assert len(lines) == 1 + len(GOALS)
    [down] = [line for line in lines if line.startswith("lab down (median)")]
    [grid] = [line for line in lines if line.startswith("four-client grid")]
    [up] = [line for line in lines if line.startswith("warm lab up")]
    assert down.endswith(" ok") and " 0.90 " in down
    assert grid.endswith(" MISS")
    assert up.endswith("not measured in this run")
    [fresh] = [line for line in lines if line.startswith("fresh machine")]
    # the median of the last three recorded runs counts, not the last one alone
    assert " 96.50 " in fresh and fresh.endswith(" MISS")

