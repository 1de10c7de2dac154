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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.clients import CURL

REPO = Path(__file__).resolve().parent.parent
RECORDING = REPO / "docs" / "clients.json"
PAGE = REPO / "docs" / "clients.md"
JAVA_SOURCE = REPO / "tests" / "integration" / "clients" / "JavaGet.java"

_NODE = ("fetch(process.argv[1]).then(r => { if (!r.ok) process.exit(1); return r.text() })"
         ".catch(e => { console.error(String(e)); process.exit(2) })")
#: ecosystem -> (how it is run, with {url}; how its version is asked)
CLIENTS: dict[str, tuple[list[str], list[str]]] = {
    "curl (--proxy-anyauth -U :)": (CURL, ["curl", "--version"]),
    "wget": (["sh", "-c", 'wget -q -T 5 -t 1 -O /dev/null --ca-certificate="$SSL_CERT_FILE" '
              '"$1"', "sh", "{url}"], ["wget", "--version"]),
    "Python requests": ([sys.executable, "-c", "import sys, requests; requests.get(sys.argv[1],"
                         " timeout=5).raise_for_status()", "{url}"],
                        [sys.executable, "-c", "import requests; print(requests.__version__)"]),
    "Python httpx": ([sys.executable, "-c", "import sys, httpx; httpx.get(sys.argv[1], "
                      "timeout=5).raise_for_status()", "{url}"],
                     [sys.executable, "-c", "import httpx; print(httpx.__version__)"]),
    "Node fetch": (["node", "-e", _NODE, "{url}"], ["node", "--version"]),
    "Java HttpClient": (["java", "-cp", "{classes}", "JavaGet", "{url}"],
                        ["java", "--version"]),
    "lab.proxy": ([sys.executable, "-m", "lab.proxy", "--timeout", "5", "{url}"],
                  [sys.executable, "-c", "import lab; print(lab.__version__)"]),
}
NOT_MEASURED = ("git and pip need a server of their own protocol at the origin, npm a "
                "registry, and Go is not installed here: their rows would be assumed, "
                "not measured")


def record(classes: str) -> dict:
    recording: dict = {"recorded": time.strftime("%Y-%m-%d"), "clients": {}}
    for name, (command, version) in CLIENTS.items():
        argv = [arg.replace("{classes}", classes) for arg in command]
        proc = subprocess.run([sys.executable, "-m", "lab.cli", "matrix", "--json", "--skip",
                               "dc-down", "--", *argv], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"lab matrix for {name} failed: {proc.stderr.strip()}")
        said = subprocess.run(version, capture_output=True, text=True, timeout=60)
        recording["clients"][name] = {
            "version": (said.stdout or said.stderr).strip().splitlines()[0],
            "scenarios": {s["name"]: {"verdict": s["verdict"], "got": s["got"],
                                      "expect": s["expect"]}
                          for s in json.loads(proc.stdout)["scenarios"]}}
        print(f"{name}: recorded", file=sys.stderr)
    return recording


def render(recording: dict) -> str:
    clients = recording["clients"]
    names = list(next(iter(clients.values()))["scenarios"])
    lines = ["# How well-known clients meet the scenarios", "",
             "Measured, not assumed: `python -m harness.ecosystems --record` ran `lab matrix` "
             f"(every scenario but `dc-down`) with each client on {recording['recorded']}, and "
             "this page is written from that recording (`docs/clients.json`). `pass` means "
             "the client did what the scenario demands (got through, or failed cleanly "
             "where it must); `FAIL` is what a user of that client would hit in a company. "
             f"Not here: {NOT_MEASURED}.", "",
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
        lines += ["", f"## {client}", "", f"`{data['version']}`: passes "
                  f"{len(data['scenarios']) - len(failed)} of {len(data['scenarios'])}.", ""]
        if failed:
            lines += ["| scenario | expect | got |", "|---|---|---|"]
            lines += [f"| `{n}` | {s['expect']} | {s['got']} |" for n, s in failed]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.ecosystems",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true",
                        help="run the clients against the lab that is up, then write")
    args = parser.parse_args()
    if args.record:
        with tempfile.TemporaryDirectory() as classes:
            subprocess.run(["javac", "-d", classes, str(JAVA_SOURCE)], check=True, timeout=300)
            RECORDING.write_text(json.dumps(record(classes), indent=1) + "\n")
    PAGE.write_text(render(json.loads(RECORDING.read_text())))
    print(f"wrote {PAGE.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
