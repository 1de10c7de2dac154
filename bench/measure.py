"""What the benchmarks read of the machine and the lab, one way each: the CPU time the
machine has spent, and what a container has spent and holds in memory."""

from __future__ import annotations

import os


def cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU-seconds of every core since boot, from /proc/stat (what `top`
    sums up; idle and iowait are not busy)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - fields[3] - fields[4]) / ticks, sum(fields) / ticks


def memory_mb(container) -> float:
    """What a container holds, as `docker stats` counts it: its usage less the page cache
    it could drop (inactive files: `total_inactive_file` on cgroup v1, `inactive_file`
    on v2), in MiB."""
    stats = container.stats(stream=False, one_shot=True)["memory_stats"]
    extra = stats.get("stats", {})
    inactive = extra.get("total_inactive_file", extra.get("inactive_file", 0))
    return (stats.get("usage", 0) - inactive) / 2**20


def cpu_work(container) -> float:
    """CPU-seconds the container has used (its cgroup, as `docker stats` counts it)."""
    stats = container.stats(stream=False, one_shot=True)
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
