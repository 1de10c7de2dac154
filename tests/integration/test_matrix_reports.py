"""`lab matrix`'s reports with real clients: the evidence each part of the lab gives a run,
the diagnoses real clients provoke, several clients in one grid, the HTML page in
Chromium. (Apart from tests/integration/test_matrix.py so that the two files' tests run
on two pytest-xdist workers: `--dist loadfile` keeps a file on one.)"""

import json
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.ecosystems import GRID, grid_arguments
from lab.scenarios.catalogue import NAMES
from tests.integration.helpers import REPO, run_lab
from tests.integration.test_matrix import SHARED, matrix

pytestmark = pytest.mark.timeout(120)


def test_the_report_says_which_scheme_each_client_chose(tool, lab_endpoints):
    """On the company port (Negotiate, NTLM, Basic offered), from squid's own log: curl
    with a ticket answers Negotiate, lab.proxy without one NTLM, requests Basic; and
    each run's evidence is its own (a grid runs them side by side)."""
    names = ["corp-kerberos", "corp-ntlm", "corp-basic-only", "corp-ntlm-https"]
    proc = run_lab("matrix", "--json", "--only", ",".join(names), *grid_arguments(
        {"curl": GRID["curl"], "lab.proxy": "lab.proxy", "requests": GRID["requests"]}),
        timeout=120)
    doc = json.loads(proc.stdout)
    saw = {(c["name"], r["name"]): r for c in doc["clients"] for r in c["scenarios"]}
    chose = {key: {p["offered"] for p in r["proxy"] if p["status"] == 200}
             for key, r in saw.items() if r["verdict"] == "pass"}
    assert chose[("curl", "corp-kerberos")] == {"negotiate"}
    assert chose[("lab.proxy", "corp-kerberos")] == {"negotiate"}
    assert chose[("lab.proxy", "corp-ntlm")] == {"ntlm"}
    assert chose[("requests", "corp-basic-only")] == {"basic"}
    assert saw[("lab.proxy", "corp-ntlm")]["proxy_saw"] == \
        f"407 → 407 → 200 on corp: answered with NTLM (user {lab_endpoints.dc.workgroup}\\" \
        f"{lab_endpoints.proxy['corp'].username})"
    # a tunnel: tied to its run by the origin's record, its handshake on one connection
    tunnel = saw[("lab.proxy", "corp-ntlm-https")]
    assert [(p["method"], p["status"], p["offered"]) for p in tunnel["proxy"]] == [
        ("CONNECT", 407, None), ("CONNECT", 407, "ntlm"), ("CONNECT", 200, "ntlm")], tunnel
    assert len({p["connection"] for p in tunnel["proxy"]}) == 1
    # curl's --proxy-anyauth without a ticket stays on Negotiate: the evidence says so
    stuck = saw[("curl", "corp-ntlm")]
    assert stuck["verdict"] == "fail" and {p["status"] for p in stuck["proxy"]} == {407}


def test_each_diagnosis_from_a_real_client_that_provokes_it(tool, lab_endpoints):
    """Clients that go wrong in known ways, in one grid, and curl done right beside them:
    each wrong one gets its finding, the right one none."""
    curl = shlex.join([tool("curl"), "-fsS", "--max-time", "5", "-o", "/dev/null"])
    clients = {
        "right": f"{curl} --proxy-anyauth -U : {{url}}",      # corp-ntlm: stuck (curl#3726)
        "plain": f"{curl} {{url}}",                           # Basic, whatever is offered
        "node": shlex.join([tool("node"), "-e", "fetch(process.argv[1]).then(r => "
                            "process.exit(r.ok ? 0 : 1), e => { console.error(String(e.cause "
                            "|| e)); process.exit(2) })", "{url}"]),
        # the proxy for everything (curl's --noproxy '' empties no_proxy)
        "explicit": f"sh -c '{curl} --noproxy \"\" -x \"$http_proxy\" \"$1\"' sh {{url}}",
        "loop": (f"sh -c 'for i in 1 2 3; do {curl} \"$1\" && exit 0; done; exit 22' "
                 "sh {url}"),
        # three resources, a curl each: a new connection each time
        "each": f"sh -c 'for n in 1 2 3; do {curl} \"$1/$n\" || exit 1; done' sh {{url}}",
        # the SOCKS proxy the scenario names, with socks5:// (the client resolves)
        "socks5": (f"sh -c '{curl} -x \"$(printf %s \"$all_proxy\" | sed s/^socks5h:/socks5:/)\""
                   " \"$1\"' sh {url}"),
    }
    names = ["noauth", "basic-wrong-password", "ntlm", "corp-ntlm", "no-proxy", "socks5"]
    proc = run_lab("matrix", "--json", "--only", ",".join(names),
                   *(a for name, line in clients.items() for a in ("--client", f"{name}={line}")),
                   timeout=120)
    doc = json.loads(proc.stdout)
    found = {(c["name"], r["name"]): r["diagnoses"] for c in doc["clients"]
             for r in c["scenarios"]}

    def one(client, scenario):
        [finding] = found[(client, scenario)]
        return finding

    assert all(found[("right", name)] == [] for name in names if name != "corp-ntlm")
    assert one("right", "corp-ntlm").startswith("never answered the 407")
    assert one("plain", "ntlm") == "answered the NTLM challenge with Basic (ntlm port: 403)"
    assert one("node", "noauth").startswith("sent no request to the proxy (went direct): "
                                            "the lab's names resolve nowhere on this host")
    assert one("explicit", "no-proxy").startswith("ignored no_proxy: 1 request(s)")
    retried = found[("loop", "basic-wrong-password")]
    assert [f.split(":")[0] for f in retried] == ["tried a refused password 3 times (each one a "
                                                  "bad password at the DC",
                                                  "3 connections for 1 request(s)"]
    assert one("each", "noauth").startswith("a new connection for every request (3 requests, "
                                            "3 connections)")
    assert one("socks5", "socks5").startswith("resolved the name itself (socks5 instead of "
                                              "socks5h)")


@pytest.mark.exclusive     # what is tied by time would take other tests' SOCKS and DNS too
def test_every_part_of_the_lab_says_what_it_saw_of_each_run(tool, lab_endpoints):
    """One curl per run, and one that asks the lab's DNS first: squid, dante, the fault
    layer (the lab's, and a fault scenario's own) and bind each tie what they saw to the
    run it belongs to, and a correct run's evidence agrees across them."""
    curl = shlex.join([tool("curl"), "-fsS", "-o", "/dev/null", "--max-time", "5"])
    dns = lab_endpoints.dns
    asks = (f"sh -c '{tool('dig')} +short +time=2 +tries=1 -p {dns.port} @{dns.host} "
            f"{lab_endpoints.dc.hostname} >/dev/null; {curl} \"$1\"' sh {{url}}")
    names = ["noauth", "basic-https", "socks5", "socks5-wrong-password", "proxy-latency",
             "proxy-reset-midstream"]
    proc = run_lab("matrix", "--json", "--only", ",".join(names), "--client",
                   f"curl={curl} {{url}}", "--client", f"asks={asks}", timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    saw = {(c["name"], r["name"]): r for c in doc["clients"] for r in c["scenarios"]}
    for client in ("curl", "asks"):
        noauth = saw[(client, "noauth")]
        [request] = noauth["proxy"]
        [connection] = noauth["evidence"]["faults"]
        # the fault layer's side of the client's connection is the client squid logged
        assert connection["upstream"] == request["connection"]
        assert connection["bytes_down"] > 0 and connection["how"] == "closed"
        tunnel = saw[(client, "basic-https")]
        assert [p["method"] for p in tunnel["proxy"]] == ["CONNECT"]
        assert [c["upstream"] for c in tunnel["evidence"]["faults"]] == \
            [tunnel["proxy"][0]["connection"]]
        socks = saw[(client, "socks5")]["evidence"]["socks"]
        assert [(r["event"], r["user"]) for r in socks] == [
            ("open", lab_endpoints.proxy["socks"].username), ("end", lab_endpoints.proxy[
                "socks"].username)]
        latency = saw[(client, "proxy-latency")]["evidence"]["faults"]
        assert {t["type"] for c in latency for t in c["toxics"]} == {"latency"}
        reset = saw[(client, "proxy-reset-midstream")]["evidence"]["faults"]
        assert {c["how"] for c in reset} == {"reset"}
    # bind heard the question from this host while the asking client ran
    asked = {r["name"] for r in saw[("asks", "noauth")]["evidence"]["dns"]}
    assert lab_endpoints.dc.hostname in asked
    assert saw[("asks", "noauth")]["evidence_saw"]["dns"].startswith(
        f"asked the lab's DNS for {lab_endpoints.dc.hostname} A")
    # a refused SOCKS login has no token and reaches no origin: one client alone, it is
    # tied by its time and its user (two clients' refusals at once would be either's)
    _, alone = matrix("--only", "socks5,socks5-wrong-password", "--", *shlex.split(curl),
                      "{url}")
    [refused] = [r for r in alone["scenarios"] if r["name"] == "socks5-wrong-password"]
    assert [(r["event"], r["tied_by"]) for r in refused["evidence"]["socks"]] == [
        ("refused", "time")]
    assert "authentication failed" in refused["evidence_saw"]["socks"]


def _recorded_failures(names) -> dict[str, list[str]]:
    recording = json.loads((Path(REPO) / "docs" / "clients.json").read_text())["clients"]
    return {short: sorted(n for n in names if recording[full]["scenarios"][n]["verdict"]
                          != "pass") for short, full in GRID.items()}


def grid(names, *extra, timeout=120):
    """The four clients of harness.ecosystems.GRID in one `lab matrix`."""
    proc = run_lab("matrix", "--json", "--only", ",".join(names), *grid_arguments(), *extra,
                   timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads(proc.stdout)


def test_four_clients_in_one_matrix_make_one_grid(lab_endpoints, tmp_path):
    """curl, wget, requests and Node's fetch over a sample, side by side in one run: a
    client each in the JSON and a testsuite each in JUnit, a grid in HTML, and each
    fails what the recorded run of docs/clients.md says it fails."""
    sample = [n for n in NAMES if n in {"noauth", "basic-https", "ntlm", "negotiate",
                                         "socks5", "pac-direct", "proxy-down", "bump-chain"}]
    junit, page = tmp_path / "grid.xml", tmp_path / "grid.html"
    proc, doc = grid(sample, "--junit", str(junit), "--html", str(page))
    assert [c["name"] for c in doc["clients"]] == list(GRID)
    expected = _recorded_failures(sample)
    for client in doc["clients"]:
        assert [r["name"] for r in client["scenarios"]] == sample
        failed_here = sorted(r["name"] for r in client["scenarios"] if r["verdict"] != "pass")
        assert failed_here == expected[client["name"]], client["name"]
    assert doc["failed"] == sum(map(len, expected.values())) and proc.returncode == 1
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert [len(s.findall("testcase")) for s in suites] == [len(sample)] * len(GRID)
    _in_chromium(page, tmp_path, cells=len(sample) * len(GRID))


#: where the suite keeps what a person may want to look at (CI: an artifact)
ARTIFACTS = Path(REPO) / "build" / "test-artifacts"
PASS_BACKGROUND, FAIL_BACKGROUND = (0xe6, 0xf4, 0xea), (0xfc, 0xe8, 0xe6)


def _in_chromium(page: Path, tmp_path: Path, cells: int) -> None:
    """The HTML report as a browser has it (Debian's headless Chromium): the grid and
    its cells, each opening a run, and an evidence panel in the DOM; both verdict
    colours on the screen. The screenshot is kept in build/test-artifacts/."""
    from PIL import Image

    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: make test-tools"
    browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = _Grid()
    rows.feed(dom.stdout)
    assert len(rows.cells) == cells and {"cell pass", "cell fail"} <= set(rows.cells)
    assert rows.links == cells and rows.evidence >= cells
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "matrix-grid.png"
    taken = subprocess.run([*browser, f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, text=True, timeout=60)
    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    colours = {colour[:3] for _count, colour in
               Image.open(shot).convert("RGBA").getcolors(maxcolors=1 << 20)}
    assert PASS_BACKGROUND in colours and FAIL_BACKGROUND in colours


class _Grid(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.links, self.evidence, self._in_cell = [], 0, 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "td" and "cell" in classes:
            self.cells.append(" ".join(classes))
            self._in_cell = True
        self.links += tag == "a" and self._in_cell and attrs.get("href", "").startswith("#s-")
        self.evidence += tag == "details" and "evidence" in classes

    def handle_endtag(self, tag):
        self._in_cell = self._in_cell and tag != "td"


@pytest.mark.slow           # four clients over the whole catalogue: make test-full
def test_four_clients_over_the_whole_catalogue_pause_the_dc_once(lab_endpoints):
    proc, doc = grid(list(NAMES), timeout=400)
    expected = _recorded_failures(SHARED)
    for client in doc["clients"]:
        assert [r["name"] for r in client["scenarios"]] == list(NAMES)
        failed_here = sorted(r["name"] for r in client["scenarios"]
                             if r["verdict"] != "pass" and r["name"] in SHARED)
        assert failed_here == expected[client["name"]], client["name"]
        assert _row(client, "dc-down")["verdict"] == "pass"
    assert proc.stderr.count("dc back") == 1, proc.stderr


def _row(client, name):
    return next(r for r in client["scenarios"] if r["name"] == name)
