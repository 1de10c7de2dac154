"""How well-known clients meet the scenario catalogue, measured: `docs/clients.md`.

`python -m harness.ecosystems --record` runs `lab matrix` (every scenario but dc-down,
which freezes the lab's DC) once per client below against the lab that is up, and
keeps what each got in `docs/clients.json`, with the client's version. Without
`--record` it writes `docs/clients.md` from that file: the tables are never written
by hand (tests/test_ecosystems.py holds the page to the recording, and the
recording to the catalogue).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.clients import CURL

REPO = Path(__file__).resolve().parent.parent
RECORDING = REPO / "docs" / "clients.json"
PAGE = REPO / "docs" / "clients.md"
CLIENT_SOURCES = REPO / "tests" / "integration" / "clients"
JAVA_SOURCE = CLIENT_SOURCES / "JavaGet.java"
GO_SOURCE = CLIENT_SOURCES / "goget.go"
#: installed by `make test-tools` (npm ci in its folder)
NODE_CLIENT = CLIENT_SOURCES / "node" / "proxy-agent-get.js"

_NODE = ("fetch(process.argv[1]).then(r => { if (!r.ok) process.exit(1); return r.text() })"
         ".catch(e => { console.error(String(e)); process.exit(2) })")
#: In a directory of its own per run, removed after: pip's download, npm's cache (a
#: package document cached by one scenario must not answer the next).
_IN_TEMP = 'd=$(mktemp -d) && trap "rm -rf $d" EXIT && '
#: ecosystem -> (how it is run, with {url} and {build}, the built clients' directory;
#: how its version is asked). Each as its users run it, the few flags that keep a run
#: bounded and its own apart: no prompt (git), no config file of this machine's and
#: an http:// index's host trusted, as pip demands of one (pip), no
#: retries after 10 s (npm: its own default waits ~70 s on a dead proxy).
CLIENTS: dict[str, tuple[list[str], list[str]]] = {
    "curl (--proxy-anyauth -U :)": (CURL, ["curl", "--version"]),
    "wget": (["sh", "-c", 'wget -q -T 5 -t 1 -O /dev/null --ca-certificate="$SSL_CERT_FILE" '
              '"$1"', "sh", "{url}"], ["wget", "--version"]),
    "git (ls-remote)": (["env", "GIT_TERMINAL_PROMPT=0", "git", "ls-remote", "{url}"],
                        ["git", "--version"]),
    "pip (download)": (["sh", "-c", _IN_TEMP + 'trust= && case "$1" in http:*) '
                        'trust="--trusted-host $(echo "$1" | cut -d/ -f3)";; esac && '
                        'PIP_CONFIG_FILE=/dev/null "$0" -m pip --disable-pip-version-check '
                        'download -q --no-deps --timeout 5 --retries 1 -d "$d" '
                        '--index-url "$1/simple" $trust lab-probe', sys.executable, "{url}"],
                       [sys.executable, "-m", "pip", "--version"]),
    "npm (view)": (["sh", "-c", _IN_TEMP + 'npm view --cache "$d" --fetch-retries 0 '
                    '--registry "$1/" lab-probe version', "sh", "{url}"],
                   ["npm", "--version"]),
    "Python requests": ([sys.executable, "-c", "import sys, requests; requests.get(sys.argv[1],"
                         " timeout=5).raise_for_status()", "{url}"],
                        [sys.executable, "-c", "import requests; print(requests.__version__)"]),
    "Python httpx": ([sys.executable, "-c", "import sys, httpx; httpx.get(sys.argv[1], "
                      "timeout=5).raise_for_status()", "{url}"],
                     [sys.executable, "-c", "import httpx; print(httpx.__version__)"]),
    "Node fetch": (["node", "-e", _NODE, "{url}"], ["node", "--version"]),
    "Node proxy-agent": (["node", str(NODE_CLIENT), "{url}"],
                         ["node", "-p", "'proxy-agent ' + require(process.argv[1]).version",
                          str(NODE_CLIENT.parent / "node_modules/proxy-agent/package.json")]),
    "Java HttpClient": (["java", "-cp", "{build}", "JavaGet", "{url}"],
                        ["java", "--version"]),
    "Go net/http": (["{build}/goget", "{url}"], ["go", "version"]),
    "lab.proxy": ([sys.executable, "-m", "lab.proxy", "--timeout", "5", "{url}"],
                  [sys.executable, "-c", "import lab; print(lab.__version__)"]),
}


#: four of them side by side in one `lab matrix` (short name -> CLIENTS' key): the grid
#: the suite checks and `make bench` times
GRID = {"curl": "curl (--proxy-anyauth -U :)", "wget": "wget", "requests": "Python requests",
        "node": "Node fetch"}


def grid_arguments(grid: dict[str, str] = GRID) -> list[str]:
    """`--client NAME=COMMAND` for each client of `grid` (short name -> CLIENTS' key)."""
    return [arg for short, full in grid.items()
            for arg in ("--client", f"{short}={shlex.join(CLIENTS[full][0])}")]


def build_clients(directory: str) -> None:
    """Java's and Go's clients, compiled into `directory` (the `{build}` of CLIENTS)."""
    subprocess.run(["javac", "-d", directory, str(JAVA_SOURCE)], check=True, timeout=300)
    subprocess.run(["go", "build", "-o", f"{directory}/goget", str(GO_SOURCE)], check=True,
                   timeout=300, env={**os.environ, "GO111MODULE": "off",
                                     "GOCACHE": f"{directory}/go-cache"})


def command(name: str, build: str) -> list[str]:
    return [arg.replace("{build}", build) for arg in CLIENTS[name][0]]


def record(build: str, names: list[str], recording: dict) -> dict:
    """`recording` with the clients in `names` run again (in CLIENTS' order)."""
    clients = recording.get("clients", {})
    today = time.strftime("%Y-%m-%d")
    recording = {"clients": {}}
    for name, (run_as, version) in CLIENTS.items():
        if name not in names:
            if name in clients:
                recording["clients"][name] = clients[name]
            continue
        proc = subprocess.run([sys.executable, "-m", "lab.cli", "matrix", "--json", "--skip",
                               "dc-down", "--", *command(name, build)], capture_output=True,
                              text=True, timeout=600)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"lab matrix for {name} failed: {proc.stderr.strip()}")
        said = subprocess.run(version, capture_output=True, text=True, timeout=60)
        recording["clients"][name] = {
            "recorded": today,
            # pip says where it is installed: the version is enough
            "version": (said.stdout or said.stderr).strip().splitlines()[0].split(" from /")[0],
            "command": shlex.join("python" if a == sys.executable else
                                  a.replace(f"{REPO}/", "") for a in run_as),
            "scenarios": {s["name"]: {"verdict": s["verdict"], "got": s["got"],
                                      "expect": s["expect"]}
                          for s in json.loads(proc.stdout)["scenarios"]}}
        print(f"{name}: recorded", file=sys.stderr)
    return recording


def _dates(clients: dict) -> str:
    dates = sorted({c["recorded"] for c in clients.values()})
    return f"on {dates[0]}" if len(dates) == 1 else f"from {dates[0]} to {dates[-1]}"


def render(recording: dict) -> str:
    clients = recording["clients"]
    names = list(next(iter(clients.values()))["scenarios"])
    lines = ["# How well-known clients meet the scenarios", "",
             "Measured, not assumed: `python -m harness.ecosystems --record` ran `lab matrix` "
             f"(every scenario but `dc-down`) with each client ({_dates(clients)}), and "
             "this page is written from that recording (`docs/clients.json`). `pass` means "
             "the client did what the scenario demands (got through, or failed cleanly "
             "where it must); `FAIL` is what a user of that client would hit in a company. "
             "git, pip and npm ask the origin what they ask a forge, an index and a "
             "registry (`lab.web.packages`); Java, Go and Node's proxy-agent run the "
             "programs in `tests/integration/clients/` (`{build}`: where they were "
             "compiled).", "",
             "Measure your own client the same way; three of curl's cells here:", "",
             "```sh",
             "lab matrix --only corp-ntlm,negotiate-alias,bump-chain -- \\",
             "    curl -fsS --proxy-anyauth -U : -o /dev/null {url} || [ $? -eq 1 ]   "
             "# 1: some failed",
             "```", "",
             "| scenario | expect | " + " | ".join(clients) + " |",
             "|---|---|" + "---|" * len(clients)]
    for name in names:
        expect = next(iter(clients.values()))["scenarios"][name]["expect"]
        cells = [("pass" if c["scenarios"][name]["verdict"] == "pass" else "**FAIL**")
                 for c in clients.values()]
        lines.append(f"| `{name}` | {expect} | " + " | ".join(cells) + " |")
    for client, data in clients.items():
        failed = [(n, s) for n, s in data["scenarios"].items() if s["verdict"] != "pass"]
        lines += ["", f"## {client}", "", f"`{data['version']}`, {data['recorded']}: passes "
                  f"{len(data['scenarios']) - len(failed)} of {len(data['scenarios'])}, "
                  f"run as `{data['command']}`.", ""]
        if failed:
            lines += ["| scenario | expect | got |", "|---|---|---|"]
            lines += [f"| `{n}` | {s['expect']} | {s['got']} |" for n, s in failed]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.ecosystems",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true",
                        help="run the clients against the lab that is up, then write")
    parser.add_argument("--client", action="append", choices=list(CLIENTS),
                        help="with --record: only this client (repeatable); the others "
                             "keep their recording")
    args = parser.parse_args()
    if args.record:
        earlier = json.loads(RECORDING.read_text()) if args.client else {}
        with tempfile.TemporaryDirectory() as build:
            build_clients(build)
            recording = record(build, args.client or list(CLIENTS), earlier)
        RECORDING.write_text(json.dumps(recording, indent=1) + "\n")
    PAGE.write_text(render(json.loads(RECORDING.read_text())))
    print(f"wrote {PAGE.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
