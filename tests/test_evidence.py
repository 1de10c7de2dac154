"""What the proxy saw, from squid's lab.log lines (lab.scenarios.evidence)."""

from lab.scenarios import evidence

LOG = """\
1765000000.100 3135 GET 407 - - http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.200 3135 GET 407 ntlm - http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.300 3135 GET 200 ntlm AD\\\\alice http://web.ad.example.com/matrix/r1/corp-ntlm
1765000000.150 3131 GET 200 negotiate alice%40AD.EXAMPLE.COM http://web.ad.example.com/matrix/r1/negotiate?x=1
1765000000.400 3135 CONNECT 200 basic alice web.ad.example.com:443
1765000000.500 3128 GET 200 - - http://web.ad.example.com/matrix/r1/corp-ntlm-https
not a line squid wrote
1765000000.600 3128 GET two - - http://x/
"""


def test_lines_become_records_and_bad_ones_are_left_out():
    records = evidence.parse(LOG)
    assert len(records) == 6
    [spaced] = evidence.parse("1.0 3129 GET 200 basic John Smith http://x/matrix/r/basic\n")
    assert spaced["user"] == "John Smith" and spaced["url"] == "http://x/matrix/r/basic"
    assert records[3]["port"] == "negotiate" and records[3]["user"] == "alice@AD.EXAMPLE.COM"
    assert records[0]["offered"] is None and records[1]["offered"] == "ntlm"


def test_a_run_gets_its_own_lines_by_its_token_and_no_other():
    records = evidence.parse(LOG)
    ntlm = evidence.of_run(records, "/matrix/r1/corp-ntlm")
    assert [(r["status"], r["offered"]) for r in ntlm] == [(407, None), (407, "ntlm"),
                                                          (200, "ntlm")]
    assert "url" not in ntlm[0]
    assert len(evidence.of_run(records, "/matrix/r1/negotiate")) == 1       # query ignored
    assert evidence.of_run(records, "/matrix/r1/corp") == []               # not a prefix


def test_the_line_a_report_shows():
    records = evidence.parse(LOG)
    assert evidence.describe(evidence.of_run(records, "/matrix/r1/corp-ntlm")) == \
        "407 → 407 → 200 on corp: answered with NTLM (user AD\\alice)"
    assert evidence.describe(evidence.of_run(records, "/matrix/r1/corp-ntlm-https")) == \
        "200 on noauth: no credentials offered"
    assert evidence.describe([]).startswith("nothing tied to this run")


class Log:
    """A squid log that is written a moment late: its lines appear on the second read."""

    def __init__(self, lines):
        self.lines, self.reads = lines, 0

    def since(self, mark):
        self.reads += 1
        return self.lines if self.reads > 1 else ""


def test_collect_waits_for_what_squid_has_answered_but_not_yet_logged():
    log = Log(LOG)
    records = evidence.collect(log, 0, ["/matrix/r1/corp-ntlm"], bound=5)
    assert log.reads == 2 and len(evidence.of_run(records, "/matrix/r1/corp-ntlm")) == 3


def test_collect_stops_at_its_bound_and_says_when_the_log_cannot_be_read():
    log = Log(LOG)                     # past the bound: what was logged by then
    assert evidence.collect(log, 0, ["/matrix/r1/corp-ntlm"], bound=0) == []
    assert log.reads == 1
    nothing = Log(None)
    nothing.reads = 1
    assert evidence.collect(nothing, 0, ["/matrix/r1/corp-ntlm"]) is None
