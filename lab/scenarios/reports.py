"""What `lab matrix` and `lab report` show: a terminal table, JUnit XML, one HTML file,
JSON, and what changed between two runs.

The JSON document is the record of a run, and every report is a pure function of it:
the reports agree with each other, `lab report FILE.json` renders a saved run again,
and all of it is unit-tested without a lab. A run of one client (`lab matrix -- CMD`)
is one client document (`command`, `scenarios`, ...); a run of several (`--client
NAME=CMD`) holds one per client in `clients`. JUnit follows what CI tools read
(Jenkins, GitLab, GitHub test reporters): `<testsuites>` > a `<testsuite>` per client >
one `<testcase>` per scenario, `<failure message=...>` with the client's stderr tail,
`<system-out>`/`<system-err>`. The HTML page has no external resource at all, so it
reads offline as a CI artifact; with several clients it is a grid, clients ×
scenarios, each cell a link to what that client did there.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from lab.scenarios.diagnoses import diagnose
from lab.scenarios.evidence import bind, dante, fault_layer, squid
from lab.scenarios.matrix import MatrixResult, client_slug

FAILURE_TAIL_LINES = 20
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"

Document = dict[str, Any]
Reportable = MatrixResult | Sequence[MatrixResult] | Document


def text(data: bytes) -> str:
    """Client output as text that fits anywhere (XML forbids most control characters)."""
    return _XML_INVALID.sub("\ufffd", data.decode("utf-8", errors="replace"))


def tail(output: str, lines: int = FAILURE_TAIL_LINES) -> str:
    return "\n".join(output.rstrip("\n").splitlines()[-lines:])


def wants_colour(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


# -- the document ---------------------------------------------------------------------

#: the other parts' evidence in a row, and the line that says each
_DESCRIBE = {"socks": dante.describe, "faults": fault_layer.describe, "dns": bind.describe}


def _other_evidence(parts: Mapping[str, Any] | None) -> Document:
    """`evidence` (dante's, the fault layer's and bind's records; None: not read) and
    `evidence_saw` (a line for each part read)."""
    parts = parts or {}
    found = {k: None if parts.get(k) is None else list(parts[k]) for k in _DESCRIBE}
    return {"evidence": found,
            "evidence_saw": {k: _DESCRIBE[k](v) for k, v in found.items() if v is not None}}


def client_document(result: MatrixResult) -> Document:
    """One client's run: everything every report shows (credentials already masked)."""
    doc = {
        "name": result.client, "command": list(result.command), "run": result.run_id,
        "timeout": result.timeout, "seconds": round(result.seconds, 3),
        "started": round(result.started, 3),
        "scenarios": [{"name": o.scenario.name, "expect": o.scenario.expect,
                       "description": o.scenario.description,
                       "exit_code": o.run.exit_code, "timed_out": o.run.timed_out,
                       "seconds": round(o.run.seconds, 3), "origin_seen": o.origin_seen,
                       "verdict": "pass" if o.verdict.passed else "fail",
                       "got": o.verdict.got, "reason": o.verdict.reason,
                       "argv": list(o.argv), "env": dict(sorted(o.scenario.env.items())),
                       "stdout": text(o.run.stdout), "stderr": text(o.run.stderr),
                       "origin": list(o.origin),
                       "proxy": None if o.proxy is None else list(o.proxy),
                       "proxy_saw": "squid's log was not read" if o.proxy is None else
                       squid.describe(list(o.proxy)),
                       **_other_evidence(o.evidence)}
                      for o in result.outcomes],
        "passed": result.passed, "failed": result.failed}
    for row in doc["scenarios"]:
        row["diagnoses"] = diagnose(row)
    return doc


def document(results: MatrixResult | Sequence[MatrixResult]) -> Document:
    """The `--json` document: one client's, or `clients` for several."""
    if isinstance(results, MatrixResult):
        return client_document(results)
    clients = [client_document(r) for r in results]
    if len(clients) == 1:
        return clients[0]
    return {"run": clients[0]["run"].rsplit(".", 1)[0],
            "seconds": max(c["seconds"] for c in clients), "clients": clients,
            "passed": sum(c["passed"] for c in clients),
            "failed": sum(c["failed"] for c in clients)}


def to_json(report: Reportable) -> Document:
    """The document of a run, from the run or a document already."""
    return report if isinstance(report, dict) else document(report)


def clients(report: Reportable) -> list[Document]:
    """The client documents of a run, one or several."""
    doc = to_json(report)
    return list(doc["clients"]) if "clients" in doc else [doc]


def json_text(report: Reportable) -> str:
    return json.dumps(to_json(report), indent=2)


#: what a run saved by an older `lab matrix --json` may lack, and what stands in for it
_CLIENT_DEFAULTS = {"name": "", "run": "", "timeout": 0.0, "seconds": 0.0, "started": 0.0}
_ROW_DEFAULTS = {"description": "", "exit_code": None, "timed_out": False, "seconds": 0.0,
                 "origin_seen": False, "got": "", "reason": "", "argv": [], "env": {},
                 "stdout": "", "stderr": "", "origin": [], "proxy": None,
                 "proxy_saw": "not recorded", "diagnoses": [],
                 "evidence": {"socks": None, "faults": None, "dns": None}, "evidence_saw": {}}


def check_document(doc: Any, source: str) -> Document:
    """`doc`, a `lab matrix --json` document (an older one given what it lacks); else a
    ValueError saying what it is not."""
    refused = ValueError(f"{source} is not a `lab matrix --json` document")
    if not isinstance(doc, dict) or ("clients" in doc and not (
            isinstance(doc["clients"], list) and doc["clients"])):
        raise refused
    try:
        for client in clients(doc):
            if not (isinstance(client["scenarios"], list) and isinstance(client["command"], list)
                    and all(isinstance(r, dict) and isinstance(r["name"], str)
                            and r["verdict"] in ("pass", "fail") and isinstance(r["expect"], str)
                            for r in client["scenarios"])):
                raise refused
            int(client["passed"]), int(client["failed"])
            for key, value in _CLIENT_DEFAULTS.items():
                client.setdefault(key, value)
            for row in client["scenarios"]:
                for key, value in _ROW_DEFAULTS.items():
                    row.setdefault(key, value)
        doc.setdefault("run", clients(doc)[0]["run"])
        doc.setdefault("seconds", max(c["seconds"] for c in clients(doc)))
        int(doc["passed"]), int(doc["failed"])
    except (KeyError, TypeError, AttributeError, ValueError):
        raise refused from None
    return doc


# -- the terminal ---------------------------------------------------------------------

def _verdict(row: Document) -> str:
    return "pass" if row["verdict"] == "pass" else "FAIL"


def _client_name(client: Document) -> str:
    return client.get("name") or (os.path.basename(client["command"][0])
                                  if client["command"] else "client")


def _columns(rows: list[tuple[str, ...]], colour: bool, verdicts: set[int],
             right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            padded = cell.rjust(width) if i in right else cell.ljust(width)
            if colour and index and i in verdicts:
                padded = f"{_GREEN if cell == 'pass' else _RED}{padded}{_RESET}"
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    return lines


def table(report: Reportable, colour: bool = False) -> str:
    """One client: scenario, expected, got, verdict, seconds. Several: a grid of
    verdicts, a column per client. Then why each failure failed."""
    doc, runs = to_json(report), clients(report)
    if len(runs) == 1:
        rows = [("scenario", "expected", "got", "verdict", "seconds")]
        rows += [(r["name"], r["expect"], r["got"], _verdict(r), f"{r['seconds']:.2f}")
                 for r in runs[0]["scenarios"]]
        lines = _columns(rows, colour, {3}, {4})
    else:
        names = _scenario_names(runs)
        rows = [("scenario", "expected", *map(_client_name, runs))]
        for name in names:
            found = [_row(c, name) for c in runs]
            expect = next(r["expect"] for r in found if r)
            rows.append((name, expect, *(_verdict(r) if r else "-" for r in found)))
        lines = _columns(rows, colour, set(range(2, 2 + len(runs))), set())
    for client in runs:
        prefix = f"{_client_name(client)}: " if len(runs) > 1 else ""
        for r in client["scenarios"]:
            if r["verdict"] != "pass":
                last = tail(r["stderr"], 1) or tail(r["stdout"], 1)
                lines.append(f"{prefix}{r['name']}: {r['reason']}"
                             + (f"; proxy: {r['proxy_saw']}" if r.get("proxy") else "")
                             + (f"; last output: {last}" if last else ""))
            kind = "  why" if r["verdict"] != "pass" else f"{prefix}{r['name']}: warning"
            lines += [f"{kind}: {found}" for found in r.get("diagnoses", [])]
    lines.append(f"{doc['passed']} passed, {doc['failed']} failed in {doc['seconds']:.1f} s "
                 f"(run {doc['run']}; `lab matrix --json` for details)")
    return "\n".join(lines)


def _scenario_names(runs: list[Document]) -> list[str]:
    names: list[str] = []
    for client in runs:
        names += [r["name"] for r in client["scenarios"] if r["name"] not in names]
    return names


def _row(client: Document, name: str) -> Document | None:
    return next((r for r in client["scenarios"] if r["name"] == name), None)


# -- JUnit ----------------------------------------------------------------------------

def _classname(client: Document) -> str:
    return "lab.matrix." + client_slug(_client_name(client))


def junit(report: Reportable) -> str:
    """JUnit XML: a testsuite per client, a testcase per scenario, failures carrying
    the stderr tail."""
    doc, runs = to_json(report), clients(report)

    def counts(tests: int, failures: int, seconds: float) -> dict[str, str]:
        return {"tests": str(tests), "failures": str(failures), "errors": "0",
                "skipped": "0", "time": f"{seconds:.3f}"}

    suites = ET.Element("testsuites", name="lab matrix", **counts(
        sum(len(c["scenarios"]) for c in runs), doc["failed"], doc["seconds"]))
    for client in runs:
        command = shlex.join(client["command"])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(client["started"]))
        title = f"lab matrix: {command}" if len(runs) == 1 else \
            f"lab matrix: {_client_name(client)}: {command}"
        suite = ET.SubElement(suites, "testsuite", name=title, timestamp=stamp,
                              hostname=socket.gethostname(),
                              **counts(len(client["scenarios"]), client["failed"],
                                       client["seconds"]))
        properties = ET.SubElement(suite, "properties")
        for name, value in (("client", _client_name(client)), ("command", command),
                            ("run", client["run"]), ("timeout", str(client["timeout"]))):
            ET.SubElement(properties, "property", name=name, value=value)
        for r in client["scenarios"]:
            case = ET.SubElement(suite, "testcase", classname=_classname(client),
                                 name=r["name"], time=f"{r['seconds']:.3f}")
            if r["verdict"] != "pass":
                why = "".join(f"; {found}" for found in r.get("diagnoses", []))
                failure = ET.SubElement(
                    case, "failure", type=f"expected {r['expect']}, got {r['got']}",
                    message=f"{r['reason']} (expected {r['expect']}, got {r['got']}){why}")
                failure.text = tail(r["stderr"]) or tail(r["stdout"]) or "(no output)"
            ET.SubElement(case, "system-out").text = r["stdout"]
            ET.SubElement(case, "system-err").text = r["stderr"]
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# -- HTML -----------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}tr.pass td.verdict,td.cell.pass{color:#176f2c;
font-weight:bold}tr.fail td.verdict,td.cell.fail{color:#b00020;font-weight:bold}
td.cell.pass{background:#e6f4ea}td.cell.fail{background:#fce8e6}td.cell a{color:inherit}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;margin:.3em 0}
code{background:#f0f0f0}
"""


def _anchor(client: Document, row: Document, several: bool) -> str:
    return f"s-{client_slug(_client_name(client))}-{row['name']}" if several else \
        f"s-{row['name']}"


def _details(row: Document) -> str:
    esc = html.escape
    env = "\n".join(f"{k}={v}" for k, v in row["env"].items())
    origin = json.dumps(row["origin"], indent=1) if row["origin"] else \
        "(nothing reached the origin)"
    findings = "".join(f"<li>{esc(found)}</li>" for found in row.get("diagnoses", []))
    return "".join([
        f"<p>{esc(row['description'])}</p>", f"<p>why: {esc(row['reason'])}</p>",
        f'<ul class="diagnoses">{findings}</ul>' if findings else "",
        f"<p>command: <code>{esc(shlex.join(row['argv']))}</code></p>",
        f"<details><summary>environment</summary><pre>{esc(env)}</pre></details>",
        f"<details open><summary>stdout</summary><pre>{esc(row['stdout'])}</pre></details>",
        f"<details open><summary>stderr</summary><pre>{esc(row['stderr'])}</pre></details>",
        f'<details class="evidence"><summary>what the proxy saw: '
        f"{esc(row.get('proxy_saw', ''))}</summary>"
        f"<pre>{esc(json.dumps(row.get('proxy'), indent=1))}</pre></details>",
        *(f'<details class="evidence"><summary>what {_PART_NAMES[part]} saw: {esc(line)}'
          f"</summary><pre>{esc(json.dumps(row['evidence'][part], indent=1))}</pre>"
          "</details>" for part, line in row.get("evidence_saw", {}).items()),
        f'<details class="evidence"><summary>what the origin saw</summary>'
        f"<pre>{esc(origin)}</pre></details>"])


_PART_NAMES = {"socks": "the SOCKS server", "faults": "the fault layer", "dns": "the DNS"}


def html_report(report: Reportable) -> str:
    """One self-contained page: a row per scenario (with several clients, a cell per
    client), what each run did below."""
    esc = html.escape
    doc, runs = to_json(report), clients(report)
    several = len(runs) > 1
    sections = []
    if not several:
        rows = []
        for r in runs[0]["scenarios"]:
            kind, name = r["verdict"], esc(r["name"])
            rows.append(f'<tr class="scenario {kind}"><td><a href="#{_anchor(runs[0], r, False)}">'
                        f"{name}</a></td><td>{esc(r['expect'])}</td><td>{esc(r['got'])}</td>"
                        f'<td class="verdict">{kind}</td><td>{r["seconds"]:.2f}</td>'
                        f"<td>{'yes' if r['origin_seen'] else 'no'}</td></tr>")
        head = ("<th>scenario</th><th>expected</th><th>got</th><th>verdict</th>"
                "<th>seconds</th><th>origin saw it</th>")
        title = esc(shlex.join(runs[0]["command"]))
    else:
        rows = []
        for name in _scenario_names(runs):
            found = [_row(c, name) for c in runs]
            expect = next(r["expect"] for r in found if r)
            cells = "".join(
                f'<td class="cell {r["verdict"]}" title="{esc(r["got"])}: {esc(r["reason"])}">'
                f'<a href="#{_anchor(c, r, True)}">{r["verdict"]}</a></td>' if r else
                '<td class="cell">-</td>' for c, r in zip(runs, found, strict=True))
            rows.append(f'<tr class="scenario"><td>{esc(name)}</td><td>{esc(expect)}</td>'
                        f"{cells}</tr>")
        head = "<th>scenario</th><th>expected</th>" + "".join(
            f"<th title=\"{esc(shlex.join(c['command']))}\">{esc(_client_name(c))}</th>"
            for c in runs)
        title = ", ".join(esc(_client_name(c)) for c in runs)
    for client in runs:
        who = f"{esc(_client_name(client))}, " if several else ""
        sections += [f'<section id="{_anchor(client, r, several)}"><h3>{who}'
                     f"{esc(r['name'])}: {r['verdict']}</h3>{_details(r)}</section>"
                     for r in client["scenarios"]]
    commands = "<br>".join((f"<strong>{esc(_client_name(c))}</strong>: " if several else "")
                           + f"<code>{esc(shlex.join(c['command']))}</code>" for c in runs)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lab matrix: {title}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>lab matrix</h1><p>{commands}<br>run {esc(doc['run'])}, "
            f"timeout {runs[0]['timeout']:g} s: <strong>{doc['passed']} passed, "
            f"{doc['failed']} failed</strong> in {doc['seconds']:.1f} s</p>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows)
            + "\n</tbody></table>\n" + "\n".join(sections) + "\n</body></html>\n")


# -- two runs -------------------------------------------------------------------------

@dataclass(frozen=True)
class Changes:
    """What changed between two runs, client by client and scenario by scenario."""

    broke: list[str]         # passed, and now fails
    fixed: list[str]         # failed, and now passes
    other: list[str]         # in one run only

    @property
    def lines(self) -> list[str]:
        return self.broke + self.fixed + self.other


def changes(before: Reportable, after: Reportable) -> Changes:
    """From `before` to `after`, clients matched by name: what passed and now fails
    first, then what now passes, then what one run has and the other has not."""
    old = {_client_name(c): c for c in clients(before)}
    new = {_client_name(c): c for c in clients(after)}
    if len(old) == len(new) == 1:       # one client each: the same one, whatever its name
        new = {next(iter(old)): next(iter(new.values()))}
    found = Changes([], [], [])
    for name in [*old, *(n for n in new if n not in old)]:
        prefix = f"{name}: " if len(old) > 1 or len(new) > 1 else ""
        if name not in new or name not in old:
            found.other.append(f"{prefix}client only in the "
                               f"{'first' if name in old else 'second'} run")
            continue
        for scenario in _scenario_names([old[name], new[name]]):
            a, b = _row(old[name], scenario), _row(new[name], scenario)
            if a is None or b is None:
                found.other.append(f"{prefix}{scenario}: only in the "
                                   f"{'first' if b is None else 'second'} run")
            elif a["verdict"] == "pass" and b["verdict"] != "pass":
                found.broke.append(f"{prefix}{scenario}: pass -> FAIL "
                                   f"({b['got']}: {b['reason']})")
            elif a["verdict"] != "pass" and b["verdict"] == "pass":
                found.fixed.append(f"{prefix}{scenario}: FAIL -> pass")
    return found
