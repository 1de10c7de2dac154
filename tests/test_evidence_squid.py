"""What squid saw, from its lab.log lines (lab.scenarios.evidence.squid)."""

from lab.scenarios.evidence import squid as evidence
from lab.scenarios.evidence.windows import Window

LOG = """\
1765000000.100 3135 GET 407 - 10.0.0.2:40001 - - http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.200 3135 GET 407 ntlm 10.0.0.2:40001 - - http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.300 3135 GET 200 ntlm 10.0.0.2:40001 51000 AD\\\\alice http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.150 3131 GET 200 negotiate 10.0.0.2:40002 51001 alice%40AD.EXAMPLE.COM http://web.ad.example.com/matrix/r1/negotiate?x=1
1765000000.350 3129 CONNECT 407 - 10.0.0.2:40003 - - web.ad.example.com:443
1765000000.400 3129 CONNECT 200 basic 10.0.0.2:40003 51002 alice web.ad.example.com:443
1765000000.410 3129 CONNECT 200 basic 10.0.0.2:40004 51003 alice web.ad.example.com:443
1765000000.500 3128 GET 200 - 10.0.0.2:40005 51004 - http://web.ad.example.com/matrix/r1/corp-ntlm-https
not a line squid wrote
1765000000.600 3128 GET two - 10.0.0.2:1 - - http://x/
1765000000.700 3128 GET 200 - - http://x/matrix/r1/corp-ntlm
"""


def test_lines_become_records_and_bad_ones_are_left_out():
    records = evidence.parse(LOG)
    assert len(records) == 8
    [spaced] = evidence.parse("1.0 3129 GET 200 basic a:1 - John Smith http://x/matrix/r/basic\n")
    assert spaced["user"] == "John Smith" and spaced["url"] == "http://x/matrix/r/basic"
    assert records[3]["port"] == "negotiate" and records[3]["user"] == "alice@AD.EXAMPLE.COM"
    assert records[0]["offered"] is None and records[1]["offered"] == "ntlm"
    assert records[0]["connection"] == "10.0.0.2:40001" and records[0]["server_port"] is None
    assert records[2]["server_port"] == 51000


def test_a_run_gets_its_own_lines_by_its_token_and_no_other():
    records = evidence.parse(LOG)
    ntlm = evidence.of_run(records, "/matrix/r1/corp-ntlm")
    assert [(r["status"], r["offered"]) for r in ntlm] == [(407, None), (407, "ntlm"),
                                                          (200, "ntlm")]
    assert len(evidence.of_run(records, "/matrix/r1/negotiate")) == 1       # query ignored
    assert evidence.of_run(records, "/matrix/r1/corp") == []               # not a prefix


def test_a_tunnel_is_tied_by_the_origins_record_with_the_407s_on_its_connection():
    records = evidence.parse(LOG)
    origin = [{"path": "/matrix/r1/basic-https", "client_port": 51002, "scheme": "https"}]
    tunnel = evidence.of_run(records, "/matrix/r1/basic-https", origin)
    assert [(r["status"], r["connection"]) for r in tunnel] == [(407, "10.0.0.2:40003"),
                                                                (200, "10.0.0.2:40003")]
    assert evidence.of_run(records, "/matrix/r1/basic-https") == []      # no origin: none
    # a plain request from the same port of squid's (towards port 80, not 443): no tunnel
    plain = [{"path": "/matrix/r1/basic", "client_port": 51002, "scheme": "http"}]
    assert evidence.of_run(records, "/matrix/r1/basic", plain) == []


def test_two_ports_tunnels_from_one_address_of_the_fault_layer_stay_apart():
    lines = ("1.0 3129 CONNECT 407 - 10.0.0.2:40003 - - web:443\n"
             "1.1 3130 CONNECT 200 basic 10.0.0.2:40003 51009 alice web:443\n")
    records = evidence.parse(lines)
    origin = [{"client_port": 51009, "scheme": "https"}]
    assert [r["port"] for r in evidence.of_run(records, "/matrix/r1/ldap-https", origin)] == \
        ["ldap"]


def test_the_line_a_report_shows():
    records = evidence.parse(LOG)
    assert evidence.describe(evidence.of_run(records, "/matrix/r1/corp-ntlm")) == \
        "407 → 407 → 200 on corp: answered with NTLM (user AD\\alice)"
    assert evidence.describe(evidence.of_run(records, "/matrix/r1/corp-ntlm-https")) == \
        "200 on noauth: no credentials offered"
    assert evidence.describe([]).startswith("nothing tied to this run")
    again = evidence.parse("1.0 3128 GET 407 - a:1 - - u\n1.1 3128 GET 407 - a:2 - - u\n")
    assert evidence.describe(again) == "407 → 407 on noauth over 2 connections: no credentials " \
        "offered"


class Log:
    """A squid log that is written a moment late: its lines appear on the second read."""

    def __init__(self, lines):
        self.lines, self.reads = lines, 0

    def since(self, mark):
        self.reads += 1
        return self.lines if self.reads > 1 else ""


def test_collect_waits_for_what_squid_has_answered_but_not_yet_logged():
    log = Log(LOG)
    records = evidence.collect(log, 0, {"/matrix/r1/corp-ntlm": []}, bound=5)
    assert log.reads == 2 and len(evidence.of_run(records, "/matrix/r1/corp-ntlm")) == 3


def test_collect_stops_at_its_bound_and_says_when_the_log_cannot_be_read():
    log = Log(LOG)                     # past the bound: what was logged by then
    assert evidence.collect(log, 0, {"/matrix/r1/corp-ntlm": []}, bound=0) == []
    assert log.reads == 1
    nothing = Log(None)
    nothing.reads = 1
    assert evidence.collect(nothing, 0, {"/matrix/r1/corp-ntlm": []}) is None


def test_a_tunnel_that_reached_no_origin_goes_to_the_one_run_on_its_port_then():
    records = evidence.parse(LOG)
    windows = {"b": Window("basic", 1765000000.3, 1765000000.5),
               "c": Window("ntlm", 1765000000.3, 1765000000.5)}     # another port
    found = evidence.tunnels_by_time(evidence.Index(records), [], {
        k: Window(p, s - 5, e - 5) for k, (p, s, e, _) in windows.items()})
    assert found == {}                                               # nobody's window
    found = evidence.tunnels_by_time(evidence.Index(records), [], {"b": windows["b"],
                                                                 "c": windows["c"]})
    assert [r["status"] for r in found["b"]] == [407, 200, 200]      # both tunnels: b's
    found = evidence.tunnels_by_time(evidence.Index(records), [records[4], records[5]],
                                     {"b": windows["b"], "c": windows["c"]})
    assert [r["connection"] for r in found["b"]] == ["10.0.0.2:40004"]
    assert found["b"][0]["tied_by"] == "time"
    assert evidence.describe(found["b"]).endswith("(tied by time: the only tunnel on that "
                                                  "port then)")
    both = evidence.tunnels_by_time(evidence.Index(records), [], {"b": windows["b"],
                                                                "d": windows["b"]})
    assert both == {}                                                # two runs: nobody's
