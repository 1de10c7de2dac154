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


def test_a_goal_shows_its_floor_and_whether_the_floor_misses_too():
    figures = {"warm lab up, until all healthy (median)": 5.1,
               "warm lab up's floor, the larger of those two": 3.75,
               "lab down (median)": 1.1, "lab down's floor: that CLI and that removal": 0.9,
               "lab matrix -- curl, wall (median)": 6.5}
    lines = table(figures)
    [up] = [line for line in lines if line.startswith("warm lab up")]
    [down] = [line for line in lines if line.startswith("lab down (median)")]
    [matrix] = [line for line in lines if line.startswith("full lab matrix")]
    [restart] = [line for line in lines if line.startswith("lab up after the engine")]
    assert " 3.75 " in up and up.endswith(" MISS (its floor misses too)")
    # a floor under the goal: the miss is the lab's to mend
    assert " 0.90 " in down and down.endswith(" MISS")
    assert matrix.endswith(" MISS") and "  -  " in matrix
    assert restart.endswith("not measured in this run") and " 3.75 " in restart
