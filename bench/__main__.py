"""`python -m bench [lab|tidy ...] [--warm]`: print the project's benchmark figures."""

import sys


def report(what: str, value: float, unit: str) -> None:
    print(f"{what:<62} {value:10.2f} {unit}", flush=True)


def main(argv: list[str]) -> int:
    warm_only = "--warm" in argv
    wanted = [a for a in argv if not a.startswith("--")] or ["tidy", "lab"]
    if "tidy" in wanted:
        # in a child process: task.react() owns the reactor and exits
        import subprocess

        subprocess.run([sys.executable, "-c",
                        "from bench import tidy_cycles, __main__ as m; "
                        "tidy_cycles.run(m.report)"], check=True)
    if "lab" in wanted:
        from bench import lab_lifecycle

        lab_lifecycle.run(report, cold=not warm_only)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
