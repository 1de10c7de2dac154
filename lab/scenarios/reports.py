"""What `lab matrix` shows: a terminal table, JUnit XML, one HTML file, JSON.

Each is a pure function of a `MatrixResult`, so the reports agree with each
other and are unit-tested without a lab. JUnit follows what CI tools read
(Jenkins, GitLab, GitHub test reporters): `<testsuites>` > `<testsuite>` >
one `<testcase>` per scenario, `<failure message=...>` with the client's
stderr tail, `<system-out>`/`<system-err>`. The HTML page has no external
resource at all, so it reads offline as a CI artifact.
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
from typing import Any, TextIO

from lab.scenarios.matrix import MatrixResult, Outcome

FAILURE_TAIL_LINES = 20
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"


def text(data: bytes) -> str:
    """Client output as text that fits anywhere (XML forbids most control characters)."""
    return _XML_INVALID.sub("\ufffd", data.decode("utf-8", errors="replace"))


def tail(data: bytes, lines: int = FAILURE_TAIL_LINES) -> str:
    return "\n".join(text(data).rstrip("\n").splitlines()[-lines:])


def wants_colour(stream: TextIO) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _verdict(outcome: Outcome) -> str:
    return "pass" if outcome.verdict.passed else "FAIL"


def table(result: MatrixResult, colour: bool = False) -> str:
    """scenario, expected, got, verdict, seconds; then why each failure failed."""
    rows = [("scenario", "expected", "got", "verdict", "seconds")]
    rows += [(o.scenario.name, o.scenario.expect, o.verdict.got, _verdict(o),
              f"{o.run.seconds:.2f}") for o in result.outcomes]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[4] = row[4].rjust(widths[4])
        if colour and index:
            paint = _GREEN if row[3] == "pass" else _RED
            cells[3] = f"{paint}{cells[3]}{_RESET}"
        lines.append("  ".join(cells).rstrip())
    for o in result.outcomes:
        if not o.verdict.passed:
            last = tail(o.run.stderr, 1) or tail(o.run.stdout, 1)
            lines.append(f"{o.scenario.name}: {o.verdict.reason}"
                         + (f"; last output: {last}" if last else ""))
    lines.append(f"{result.passed} passed, {result.failed} failed in {result.seconds:.1f} s "
                 f"(run {result.run_id}; `lab matrix --json` for details)")
    return "\n".join(lines)


def to_json(result: MatrixResult) -> dict[str, Any]:
    """The `--json` document."""
    return {
        "command": list(result.command), "run": result.run_id, "timeout": result.timeout,
        "seconds": round(result.seconds, 3),
        "scenarios": [{"name": o.scenario.name, "expect": o.scenario.expect,
                       "exit_code": o.run.exit_code, "timed_out": o.run.timed_out,
                       "seconds": round(o.run.seconds, 3), "origin_seen": o.origin_seen,
                       "verdict": "pass" if o.verdict.passed else "fail",
                       "got": o.verdict.got, "reason": o.verdict.reason}
                      for o in result.outcomes],
        "passed": result.passed, "failed": result.failed}


def json_text(result: MatrixResult) -> str:
    return json.dumps(to_json(result), indent=2)


def _classname(result: MatrixResult) -> str:
    program = os.path.basename(result.command[0]) if result.command else "client"
    return "lab.matrix." + re.sub(r"[^A-Za-z0-9_-]", "_", program)


def junit(result: MatrixResult) -> str:
    """JUnit XML: one testcase per scenario, failures carrying the stderr tail."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(result.started))
    counts = {"tests": str(len(result.outcomes)), "failures": str(result.failed),
              "errors": "0", "skipped": "0", "time": f"{result.seconds:.3f}"}
    suites = ET.Element("testsuites", name="lab matrix", **counts)
    suite = ET.SubElement(suites, "testsuite", name=f"lab matrix: {shlex.join(result.command)}",
                          timestamp=stamp, hostname=socket.gethostname(), **counts)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("command", shlex.join(result.command)), ("run", result.run_id),
                        ("timeout", str(result.timeout))):
        ET.SubElement(properties, "property", name=name, value=value)
    classname = _classname(result)
    for o in result.outcomes:
        case = ET.SubElement(suite, "testcase", classname=classname, name=o.scenario.name,
                             time=f"{o.run.seconds:.3f}")
        if not o.verdict.passed:
            failure = ET.SubElement(
                case, "failure", type=f"expected {o.scenario.expect}, got {o.verdict.got}",
                message=f"{o.verdict.reason} (expected {o.scenario.expect}, "
                        f"got {o.verdict.got})")
            failure.text = tail(o.run.stderr) or tail(o.run.stdout) or "(no output)"
        ET.SubElement(case, "system-out").text = text(o.run.stdout)
        ET.SubElement(case, "system-err").text = text(o.run.stderr)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}tr.pass td.verdict{color:#176f2c;font-weight:bold}
tr.fail td.verdict{color:#b00020;font-weight:bold}pre{background:#f6f6f6;padding:.5em;
overflow-x:auto;white-space:pre-wrap;margin:.3em 0}code{background:#f0f0f0}
"""


def _details(o: Outcome) -> str:
    esc = html.escape
    env = "\n".join(f"{k}={v}" for k, v in sorted(o.scenario.env.items()))
    origin = json.dumps(list(o.origin), indent=1) if o.origin else "(nothing reached the origin)"
    parts = [f"<p>{esc(o.scenario.description)}</p>",
             f"<p>why: {esc(o.verdict.reason)}</p>",
             f"<p>command: <code>{esc(shlex.join(o.argv))}</code></p>",
             f"<details><summary>environment</summary><pre>{esc(env)}</pre></details>",
             f"<details open><summary>stdout</summary><pre>{esc(text(o.run.stdout))}</pre>"
             "</details>",
             f"<details open><summary>stderr</summary><pre>{esc(text(o.run.stderr))}</pre>"
             "</details>",
             f"<details><summary>what the origin saw</summary><pre>{esc(origin)}</pre>"
             "</details>"]
    return "".join(parts)


def html_report(result: MatrixResult) -> str:
    """One self-contained page: a row per scenario, its output below the table."""
    esc = html.escape
    rows, sections = [], []
    for o in result.outcomes:
        kind = "pass" if o.verdict.passed else "fail"
        name = esc(o.scenario.name)
        rows.append(f'<tr class="scenario {kind}"><td><a href="#s-{name}">{name}</a></td>'
                    f"<td>{esc(o.scenario.expect)}</td><td>{esc(o.verdict.got)}</td>"
                    f'<td class="verdict">{kind}</td><td>{o.run.seconds:.2f}</td>'
                    f"<td>{'yes' if o.origin_seen else 'no'}</td></tr>")
        sections.append(f'<section id="s-{name}"><h3>{name}: {kind}</h3>{_details(o)}'
                        "</section>")
    command = esc(shlex.join(result.command))
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lab matrix: {command}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>lab matrix</h1><p><code>{command}</code><br>run {esc(result.run_id)}, "
            f"timeout {result.timeout:g} s: <strong>{result.passed} passed, "
            f"{result.failed} failed</strong> in {result.seconds:.1f} s</p>\n"
            "<table><thead><tr><th>scenario</th><th>expected</th><th>got</th>"
            "<th>verdict</th><th>seconds</th><th>origin saw it</th></tr></thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>\n" + "\n".join(sections)
            + "\n</body></html>\n")
