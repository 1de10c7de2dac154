"""The fresh-machine bench reads `make lab-up`'s progress lines into its steps: where the
lab's start ends and its `lab check` begins (`lab up --check` prints the endpoints' table
first)."""

from bench.fresh_machine import parse_steps

LINES = [(0.1, "lab: [1/5 Python venv (.venv)] ..."),
         (30.0, "lab: [1/5 Python venv (.venv)] done in 29.9 s"),
         (47.5, "lab: [5/5 lab up] ..."),
         (48.8, "lab: building images dns, dc (side by side)"),
         (60.0, "lab: image dns built (1/2, 11 s so far)"),
         (90.0, "lab: image dc built (2/2, 41 s so far)"),
         (90.1, "lab: images ready (41.3 s)"),
         (90.2, "lab: starting containers"),
         (94.9, "lab:   proxy  healthy after 2.4 s"),
         (95.0, "what             where                                        credentials"),
         (95.1, "proxy noauth     127.0.0.1:3128                               -"),
         (95.9, "ok   DNS SRV _kpasswd._tcp.ad.example.com: dc1.ad.example.com:464")]


def test_the_start_ends_and_lab_check_begins_at_the_endpoints_table():
    steps = {s["what"]: s for s in parse_steps(LINES, end=96.0, rc=0)}
    assert (steps["lab up"]["start"], steps["lab up"]["seconds"]) == (47.5, 47.5)
    assert steps["start, until all healthy"]["seconds"] == 4.8
    assert (steps["lab check"]["start"], steps["lab check"]["seconds"]) == (95.0, 1.0)
    assert steps["images, side by side"]["seconds"] == 41.3
    assert steps["image dc (2/2)"]["seconds"] == 41.2
