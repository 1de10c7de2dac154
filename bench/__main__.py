"""`python -m bench [tidy|proxy|corpnet|faults|fuzz|faults-lab|matrix|lab|floors|fresh ...] [--warm]
[--source=DIR]`: the project's benchmark figures. `fresh` (make lab-up on a fresh Debian 12
machine, minutes) runs only when named; the default set prints its last recorded run."""

import subprocess
import sys

from bench.rate import report


def main(argv: list[str]) -> int:
    warm_only = "--warm" in argv
    everything = ["tidy", "proxy", "corpnet", "faults", "fuzz", "faults-lab", "matrix", "lab",
                  "floors", "fresh-last"]
    wanted = [a for a in argv if not a.startswith("--")] or everything
    for name, module in (("tidy", "tidy_cycles"), ("proxy", "proxy_requests"),
                         ("corpnet", "corpnet_requests"), ("faults", "faults"),
                         ("faults-lab", "faults_lab")):
        if name in wanted:
            # each in a child process: task.react() owns the reactor, then exits
            subprocess.run([sys.executable, "-c", f"from bench import {module}; "
                            f"from bench.rate import report; {module}.run(report)"], check=True)
    if "fuzz" in wanted:
        from bench import fuzz_memory

        fuzz_memory.run(report)
    if "faults-lab" in wanted:
        from bench import faults_lab

        faults_lab.clear_times(report)
    if "matrix" in wanted:
        from bench import matrix_wall

        matrix_wall.run(report)
    if "lab" in wanted:
        from bench import lab_lifecycle

        lab_lifecycle.run(report, cold=not warm_only)
    if "floors" in wanted:
        from bench import floors

        floors.run(report)
    if "fresh-last" in wanted:
        from bench import fresh_machine

        fresh_machine.report_last(report)
    if "fresh" in wanted:
        from bench import fresh_machine

        return fresh_machine.main(argv)
    from bench.goals import table
    from bench.rate import FIGURES

    print("\n".join(["", *table(FIGURES)]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
