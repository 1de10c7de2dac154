"""The matrix reports: terminal table, JUnit XML, HTML, JSON, from one result."""

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from lab.scenarios import reports
from lab.scenarios.matrix import MatrixResult, Outcome
from lab.scenarios.processes import Completed
from lab.scenarios.scenario import Verdict
from tests.test_matrix import record, scenario


def result():
    good = Outcome(scenario("ok", name="basic"), ("curl", "http://x"),
                   Completed(0, False, 0.25, b"body", b""), (record(),),
                   Verdict(True, "ok", "the origin saw 1 request(s) through the proxy"))
    bad = Outcome(scenario("proxy-auth", name="basic-wrong-password"), ("curl", "http://y"),
                  Completed(0, False, 0.5, b"<script>alert(1)</script>",
                            b"line1\n\x1b[31mcolour\x1b[0m\x00\nlast line\n"), (),
                  Verdict(False, "exit 0", "succeeded where it must be refused (proxy-auth)"))
    hung = Outcome(scenario("ok", name="ntlm"), ("curl", "http://z"),
                   Completed(None, True, 20.0, b"", b"waiting\n"), (),
                   Verdict(False, "timeout", "still running at the bound: killed"))
    return MatrixResult("run-1", ("curl", "-f", "{url}"), 20.0, (good, bad, hung), 20.5)


def test_table_lists_every_scenario_and_why_failures_failed():
    text = reports.table(result())
    lines = text.splitlines()
    assert lines[0].split() == ["scenario", "expected", "got", "verdict", "seconds"]
    assert lines[1].split()[:4] == ["basic", "ok", "ok", "pass"]
    assert "FAIL" in lines[2] and "20.00" in lines[3]
    assert "basic-wrong-password: succeeded where it must be refused" in text
    assert "last output: last line" in text
    assert "1 passed, 2 failed" in text
    assert "\033[" not in text


def test_table_colours_verdicts_only_when_asked():
    text = reports.table(result(), colour=True)
    assert "\033[32mpass" in text and "\033[31mFAIL" in text


def test_junit_has_one_testcase_per_scenario_and_the_stderr_tail_in_failures():
    root = ET.fromstring(reports.junit(result()))
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "2"
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["basic", "basic-wrong-password", "ntlm"]
    assert {c.get("classname") for c in cases} == {"lab.matrix.curl"}
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert "must be refused" in failure.get("message")
    assert "last line" in failure.text and "\x00" not in failure.text
    assert cases[2].find("failure").text == "waiting"
    assert float(cases[2].get("time")) == 20.0
    assert "<script>" in cases[1].find("system-out").text      # escaped in the file, intact here


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.external, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "scenario" in (attrs.get("class") or "").split():
            self.rows.append(attrs["class"])
        if tag in ("link", "img", "script") or (attrs.get("src") or "").startswith("http"):
            self.external.append(tag)
        self.scripts += tag == "script"


def test_html_is_self_contained_with_one_row_per_scenario_and_escaped_output():
    page = reports.html_report(result())
    parser = Rows()
    parser.feed(page)
    assert parser.rows == ["scenario pass", "scenario fail", "scenario fail"]
    assert parser.external == [] and parser.scripts == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "last line" in page and "1 passed, 2 failed" in page


def test_json_has_the_documented_shape():
    doc = json.loads(reports.json_text(result()))
    assert doc["command"] == ["curl", "-f", "{url}"]
    assert (doc["passed"], doc["failed"]) == (1, 2)
    first = doc["scenarios"][0]
    assert {"name", "expect", "exit_code", "seconds", "origin_seen", "verdict"} <= set(first)
    assert (first["name"], first["verdict"], first["origin_seen"]) == ("basic", "pass", True)
    assert doc["scenarios"][2]["exit_code"] is None and doc["scenarios"][2]["timed_out"]


def two_clients():
    from dataclasses import replace

    curl = replace(result(), run_id="run-1.curl", client="curl")
    good, bad, _hung = result().outcomes
    node = MatrixResult("run-1.node", ("node", "get.js", "{url}"), 20.0,
                        (replace(good, verdict=Verdict(False, "exit 2", "failed where it "
                                                       "should work")), bad), 3.0,
                        client="node")
    return [curl, node]


def test_several_clients_make_one_document_with_a_client_each():
    doc = reports.to_json(two_clients())
    assert doc["run"] == "run-1" and [c["name"] for c in doc["clients"]] == ["curl", "node"]
    assert (doc["passed"], doc["failed"]) == (1, 4)
    assert doc["clients"][1]["command"] == ["node", "get.js", "{url}"]
    one = result()
    assert reports.to_json([one]) == reports.to_json(one)      # one: the one-client document
    assert reports.check_document(json.loads(json.dumps(doc)), "f") == doc


def test_the_table_of_several_clients_is_a_grid_with_their_failures():
    lines = reports.table(two_clients()).splitlines()
    assert lines[0].split() == ["scenario", "expected", "curl", "node"]
    assert lines[1].split() == ["basic", "ok", "pass", "FAIL"]
    assert lines[3].split() == ["ntlm", "ok", "FAIL", "-"]       # node did not run it
    assert "node: basic: failed where it should work; last output: body" in lines
    assert lines[-1].startswith("1 passed, 4 failed")


def test_junit_has_a_testsuite_per_client():
    root = ET.fromstring(reports.junit(two_clients()))
    assert (root.get("tests"), root.get("failures")) == ("5", "4")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["lab matrix: curl: curl -f '{url}'",
                                                "lab matrix: node: node get.js '{url}'"]
    assert [c.get("classname") for c in suites[1].findall("testcase")] == \
        ["lab.matrix.node"] * 2


class Grid(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.ids, self.evidence = [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "cell" in (attrs.get("class") or "").split():
            self.cells.append(attrs["class"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.evidence += tag == "details" and attrs.get("class") == "evidence"


def test_the_html_of_several_clients_is_a_grid_whose_cells_open_each_run():
    page = reports.html_report(two_clients())
    grid = Grid()
    grid.feed(page)
    assert grid.cells == ["cell pass", "cell fail", "cell fail", "cell fail", "cell fail",
                          "cell"]
    assert {"s-curl-basic", "s-node-basic", "s-curl-ntlm"} <= grid.ids
    assert 'href="#s-node-basic"' in page and grid.evidence == 2 * 5    # proxy, origin


def test_a_saved_run_renders_the_same_as_the_run():
    saved = json.loads(reports.json_text(two_clients()))
    assert reports.table(saved) == reports.table(two_clients())
    assert reports.html_report(saved) == reports.html_report(two_clients())


def test_changes_put_what_broke_first():
    before, after = two_clients(), two_clients()
    from dataclasses import replace

    after[0] = replace(after[0], outcomes=(
        replace(after[0].outcomes[0], verdict=Verdict(False, "exit 7", "failed where it "
                                                      "should work")),
        replace(after[0].outcomes[1], verdict=Verdict(True, "proxy-auth", "refused")),))
    found = reports.changes(before, after)
    assert found.broke == ["curl: basic: pass -> FAIL (exit 7: failed where it should work)"]
    assert found.fixed == ["curl: basic-wrong-password: FAIL -> pass"]
    assert found.other == ["curl: ntlm: only in the first run"]
    assert found.lines == found.broke + found.fixed + found.other
    assert reports.changes(before, before).lines == []


def test_a_document_that_is_not_one_is_named():
    import pytest

    for bad in ({}, {"clients": [{"scenarios": [{}]}]}, [], {"scenarios": "x"},
                {"clients": []}, {"command": [], "scenarios": [{"name": "a", "expect": "ok",
                                                               "verdict": "maybe"}],
                                  "passed": 0, "failed": 0}):
        with pytest.raises(ValueError, match="f.json is not a `lab matrix --json` document"):
            reports.check_document(bad, "f.json")


def test_a_run_saved_by_an_older_lab_matrix_renders_in_every_report():
    old = {"command": ["curl", "{url}"], "run": "r0", "timeout": 20.0, "seconds": 1.0,
           "scenarios": [{"name": "basic", "expect": "ok", "exit_code": 7, "timed_out": False,
                          "seconds": 0.1, "origin_seen": False, "verdict": "fail",
                          "got": "exit 7", "reason": "failed where it should work"}],
           "passed": 0, "failed": 1}
    doc = reports.check_document(old, "old.json")
    assert "basic: failed where it should work" in reports.table(doc)
    assert "failed where it should work" in reports.html_report(doc)
    assert ET.fromstring(reports.junit(doc)).get("failures") == "1"
    assert reports.to_json(doc)["scenarios"][0]["diagnoses"] == []


def test_one_client_each_is_compared_whatever_its_program_is_called():
    before, after = result(), result()
    from dataclasses import replace

    after = replace(after, command=("python3", "get.py"), outcomes=(
        replace(after.outcomes[0], verdict=Verdict(False, "exit 1", "no")),
        *after.outcomes[1:]))
    assert reports.changes(replace(before, command=("python", "get.py")), after).broke == \
        ["basic: pass -> FAIL (exit 1: no)"]
