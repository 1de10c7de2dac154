"""What dante, bind and the fault layer saw, from their own lines and events, and how
each is tied to a run (lab.scenarios.evidence)."""

from lab.scenarios import evidence
from lab.scenarios.evidence import bind, dante, fault_layer
from lab.scenarios.evidence.windows import Window, only_run

#: dante's lines as Debian's 1.4.2 writes them (the lab's proxy image), split to fit
_AT = "Dec  6 17:14:59 ({}) danted[638]: info: "
DANTE = "\n".join([
    _AT.format("1796577299.853084") + "block(1): tcp/accept ]: 172.29.53.14.33756 "
    "172.29.53.12.1080: error after reading 33 bytes in 0 seconds: system password "
    'authentication failed for user "frank"',
    _AT.format("1796577299.857389") + "pass(3): tcp/connect [: username%alice@"
    "172.29.53.14.33748 172.29.53.12.1080 -> 172.29.53.12.33748 172.29.53.13.80",
    _AT.format("1796577299.862228") + "pass(3): tcp/connect ]: 215 -> username%alice@"
    "172.29.53.14.33748 172.29.53.12.1080 -> 120, 120 -> 172.29.53.12.33748 "
    "172.29.53.13.80 -> 215: local client closed.  Session duration: 0s",
    _AT.format("1796577299.870000") + "pass(3): tcp/connect [: username%alice@"
    "127.0.0.1.41000 127.0.0.1.1080 -> 172.29.53.12.41000 172.29.53.13.80",
    _AT.format("1796576851.030284") + "SIGHUP ]: config reloaded.", ""])

#: bind 9.18's query log (print-time iso8601-utc)
BIND = "\n".join([
    "2026-12-06T17:11:51.688Z client @0x7f0c00e09098 172.29.53.12#35628 "
    "(web.ad.example.com): query: web.ad.example.com IN A + (172.29.53.10)",
    "2026-12-06T17:11:51.944Z client @0x7f0bfcb07898 172.29.53.1#40654 "
    "(dc1.ad.example.com): query: dc1.ad.example.com IN A +E(0)K (172.29.53.10)",
    "not a query line", ""])


def test_dante_sessions_and_refusals_become_records():
    refused, opened, ended, health = dante.parse(DANTE)
    assert (refused["event"], refused["user"], refused["connection"]) == \
        ("refused", "frank", "172.29.53.14:33756")
    assert refused["reason"].endswith('authentication failed for user "frank"')
    assert (opened["event"], opened["user"], opened["external_port"], opened["target"]) == \
        ("open", "alice", 33748, "172.29.53.13:80")
    assert (ended["event"], ended["reason"]) == ("end", "local client closed.  Session "
                                                 "duration: 0s")
    assert health["connection"].startswith("127.0.0.1")


def test_a_session_is_tied_by_the_origins_record_a_refusal_by_time_and_user():
    records = dante.parse(DANTE)
    mine = dante.of_run(records, [{"client_port": 33748}])
    assert [r["event"] for r in mine] == ["open", "end"]
    windows = {"ok": Window("socks", 1796577299.85, 1796577299.87, "alice"),
               "wrong": Window("socks", 1796577299.85, 1796577299.86, "frank")}
    timed = dante.sessions_by_time(records, mine, windows)
    assert list(timed) == ["wrong"] and timed["wrong"][0]["tied_by"] == "time"
    assert dante.describe(timed["wrong"]).startswith("refused as frank: error after")
    # the same runs without their users: the refusal could be either's
    anonymous = {k: w._replace(user=None) for k, w in windows.items()}
    assert dante.sessions_by_time(records, mine, anonymous) == {}
    assert dante.describe(mine) == ("session as alice to 172.29.53.13:80; ended (local client "
                                    "closed.  Session duration: 0s)")


def test_a_span_decides_before_its_slack():
    windows = {"first": Window("socks", 10.0, 10.5), "then": Window("socks", 10.5, 11.0)}
    assert only_run(windows, 10.7, "socks") == "then"      # in its span; in first's slack
    assert only_run(windows, 11.8, "socks") == "then"      # only in its slack
    assert only_run(windows, 10.5, "socks") is None        # both spans hold it
    assert only_run(windows, 20.0, "socks") is None
    assert only_run(windows, 10.7, "corp") is None


def test_bind_questions_from_this_host_go_to_every_run_then():
    records = bind.parse(BIND)
    assert [(r["client"], r["name"], r["type"]) for r in records] == [
        ("172.29.53.12", "web.ad.example.com", "A"), ("172.29.53.1", "dc1.ad.example.com", "A")]
    at = records[1]["time"]
    windows = {"a": Window("corp", at - 1, at + 1), "b": Window("noauth", at - 2, at + 2),
               "c": Window("noauth", at + 5, at + 6)}
    found = bind.by_time(records, "172.29.53.1", windows)
    assert sorted(found) == ["a", "b"] and found["a"][0]["runs"] == 2
    assert bind.describe(found["a"]) == ("asked the lab's DNS for dc1.ad.example.com A (while "
                                         "2 runs ran: any of them may have asked)")
    assert bind.describe([]).startswith("no question to the lab's DNS")


EVENTS = [
    {"seq": 1, "time": 5.0, "event": "open", "proxy": "proxy_noauth", "client": "gw:1",
     "upstream": "10.0.0.4:40001"},
    {"seq": 2, "time": 5.1, "event": "open", "proxy": "proxy_corp", "client": "gw:2",
     "upstream": "10.0.0.4:40002"},
    {"seq": 3, "time": 5.2, "event": "close", "proxy": "proxy_noauth", "connection": 1,
     "client": "gw:1", "upstream": "10.0.0.4:40001", "opened": 5.0, "bytes_up": 100,
     "bytes_down": 2048, "toxics": [{"name": "lat", "type": "latency", "stream": "downstream"}],
     "how": "reset"},
    {"seq": 4, "time": 5.3, "event": "close", "proxy": "proxy_corp", "connection": None,
     "client": "gw:3", "upstream": None, "opened": 5.25, "bytes_up": 0, "bytes_down": 0,
     "toxics": [], "how": "upstream unreachable"},
]


def test_fault_layer_connections_are_joined_by_their_upstream_side():
    records = fault_layer.connections(EVENTS)
    assert [(r["upstream"], r["closed"], r["how"]) for r in records] == [
        ("10.0.0.4:40001", 5.2, "reset"), ("10.0.0.4:40002", None, None),
        (None, 5.3, "upstream unreachable")]
    mine = fault_layer.of_run(records, [{"connection": "10.0.0.4:40001", "port": "noauth"}])
    assert len(mine) == 1
    # the same address on the layer's side towards another service: not this run's
    assert fault_layer.of_run(records, [{"connection": "10.0.0.4:40001", "port": "ntlm"}]) == []
    assert fault_layer.describe(mine) == ("1 connection(s): 100 B up, 2.0 KiB down; toxics lat "
                                          "(latency, downstream); ended: reset")
    assert fault_layer.of_proxy(records, "proxy_corp") == records[1:]
    assert fault_layer.describe([]) == "no connection tied to this run"


class Text:
    def __init__(self, text):
        self.text = text

    def mark(self):
        return 0

    def since(self, mark):
        return self.text


class Events:
    def mark(self):
        return 0

    def since(self, mark):
        return EVENTS


def test_tie_gives_each_run_every_part_and_none_for_a_part_not_read():
    squid_log = ("5.05 3128 GET 200 - 10.0.0.4:40001 51000 - http://web/matrix/r/noauth\n")
    witnesses = evidence.Witnesses(squid=Text(squid_log), dante=Text(""), faults=Events(),
                                   outside="172.29.53.1")
    runs = [evidence.Run("/matrix/r/noauth", "noauth", False, 5.0, 5.2,
                         origin=[{"client_port": 51000}], through_squid=True),
            evidence.Run("/matrix/r/socks5", "socks", False, 5.0, 5.2)]
    seen = evidence.gather(witnesses, witnesses.marks(), runs)
    saw = evidence.tie(seen, runs, witnesses.outside)
    noauth = saw["/matrix/r/noauth"]
    assert [r["status"] for r in noauth["proxy"]] == [200]
    assert [r["bytes_down"] for r in noauth["faults"]] == [2048]
    assert noauth["socks"] == [] and noauth["dns"] is None        # bind: not read
    assert saw["/matrix/r/socks5"]["faults"] == []


class Counted(Text):
    """A log that counts its reads."""

    def __init__(self, text):
        super().__init__(text)
        self.reads = 0

    def since(self, mark):
        self.reads += 1
        return self.text


def test_parts_read_early_are_not_read_again_and_the_rest_are():
    squid = Counted("5.05 3128 GET 200 - 10.0.0.4:40001 51000 - http://web/matrix/r/noauth\n")
    dante_log, bind_log = Counted(DANTE), Counted(BIND)
    witnesses = evidence.Witnesses(squid=squid, dante=dante_log, bind=bind_log)
    marks = witnesses.marks()
    early = evidence.read_early(witnesses, marks, ["dante"])
    assert (dante_log.reads, bind_log.reads, squid.reads) == (1, 0, 0)
    runs = [evidence.Run("/matrix/r/noauth", "noauth", False, 5.0, 5.2,
                         origin=[{"client_port": 51000}], through_squid=True)]
    seen = evidence.gather(witnesses, marks, runs, early=early)
    assert (dante_log.reads, bind_log.reads, squid.reads) == (1, 1, 1)
    assert [r["status"] for r in seen.squid] == [200]
    assert len(seen.dante) == 4 and seen.dante == dante.parse(DANTE)
    assert len(seen.bind) == 2 and seen.bind == bind.parse(BIND)


class Growing(Counted):
    """A log that counts its reads, and whose end is its text's length."""

    def mark(self):
        return len(self.text)

    def since(self, mark):
        self.reads += 1
        return self.text[mark:]


def test_a_log_read_early_is_read_again_once_it_has_grown():
    bind_log = Growing(BIND)
    witnesses = evidence.Witnesses(bind=bind_log)
    marks = {"bind": 0}
    early = evidence.read_early(witnesses, marks, ["bind"])
    assert bind_log.reads == 1
    assert evidence.gather(witnesses, marks, [], early=early).bind == bind.parse(BIND)
    assert bind_log.reads == 1                     # not grown: what was read stands
    grown = BIND + BIND.splitlines(keepends=True)[0]
    bind_log.text = grown
    assert evidence.gather(witnesses, marks, [], early=early).bind == bind.parse(grown)
    assert bind_log.reads == 2


def test_the_fault_layers_journal_says_unknown_when_events_were_lost_or_renumbered():
    from lab.stack.service_logs import FaultJournal

    journal = FaultJournal("http://127.0.0.1:9")
    answers = {2: {"events": [{"seq": 5}], "first": 5, "last": 5},         # 3, 4 are gone
               7: {"events": [], "first": 1, "last": 2},                   # restarted
               0: {"events": [{"seq": 1}, {"seq": 2}], "first": 1, "last": 2},
               3: {"events": [{"seq": 4}], "first": 2, "last": 4}}
    journal._ask = answers.get
    assert journal.after(2) == ([{"seq": 5}], 5, "the fault layer dropped 2 events")
    assert journal.since(2) is None
    assert journal.after(7) == ([{"seq": 1}, {"seq": 2}], 2, "the fault layer restarted")
    assert journal.since(7) is None
    assert journal.since(3) == [{"seq": 4}]
