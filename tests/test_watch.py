"""`lab watch`'s events from each part's raw lines, its filters and its lines, over
recorded lines (lab.cli.watch; the DC's audit lines: lab.scenarios.evidence.samba)."""

from lab.cli.watch import Watch, line
from lab.scenarios.evidence import samba

SAMLOGON = ("Auth: [SamLogon,network] user []\\[alice] at [Sun, 06 Dec 2026 17:31:35.947583 "
            "UTC] with [NTLMv2] status [NT_STATUS_OK] workstation [\\\\\\\\WORKSTATION] "
            "remote host [ipv4:172.29.53.12:47562] became [AD]\\[alice] [S-1-5-21-1-1104]. "
            "local host [ipv4:172.29.53.11:49152]  NETLOGON computer [LABPROXY]")
WRONG = ("Auth: [LDAP,simple bind] user [AD]\\[cn=bob,cn=Users,dc=ad] at [Sun, 06 Dec 2026 "
         "17:31:36.000001 UTC] with [Plaintext] status [NT_STATUS_WRONG_PASSWORD] "
         "workstation [DC1] remote host [ipv4:172.29.53.12:40000] mapped to [AD]\\[bob]. "
         "local host [ipv4:172.29.53.11:389]")
KDC = ("Auth: [Kerberos KDC,ENC-TS Pre-authentication] user [(null)]\\[alice@AD.EXAMPLE.COM] "
       "at [Sun, 06 Dec 2026 17:11:52.237387 UTC] with [aes256-cts-hmac-sha1-96] status "
       "[NT_STATUS_OK] workstation [(null)] remote host [ipv4:172.29.53.1:41510] became "
       "[AD]\\[alice] [S-1-5-21-1-1104]. local host [NULL]")

SQUID = ("1796578173.684 3132 GET 407 ntlm 172.29.53.14:57398 - - http://web/matrix/w/a\n"
         "1796578173.691 3132 GET 200 ntlm 172.29.53.14:57398 37270 AD\\\\alice "
         "http://web/matrix/w/a\n"
         "1796578170.277 3132 GET 200 ntlm 127.0.0.1:53322 37270 AD\\\\alice "
         "http://web/simpleresource\n")
OPEN = {"seq": 7, "time": 1796578173.683, "event": "open", "proxy": "proxy_ntlm",
        "client": "172.29.53.1:60920", "upstream": "172.29.53.14:57398"}


def test_the_dcs_audit_lines_name_service_account_outcome_and_client():
    ok, wrong, kdc = (samba.parse_line(text) for text in (SAMLOGON, WRONG, KDC))
    assert (ok["service"], ok["user"], ok["how"], ok["ok"], ok["client"]) == \
        ("SamLogon,network", "AD\\alice", "NTLMv2", True, "172.29.53.12:47562")
    assert (wrong["user"], wrong["status"], wrong["ok"]) == \
        ("AD\\bob", "NT_STATUS_WRONG_PASSWORD", False)
    assert kdc["user"] == "AD\\alice" and round(kdc["time"]) == 1796577112
    assert samba.parse_line("samba version 4.17.12-Debian started.") is None


def events(watch, source, item):
    return [e for e in map(watch.named, watch.events(source, item)) if watch.shown(e)]


def test_a_handshake_with_its_connection_and_client_and_no_health_check():
    watch = Watch(None, None, None, False)
    [opened] = events(watch, "faults", OPEN)
    shown = events(watch, "proxy", SQUID)
    assert [(e["status"], e["client"]) for e in shown] == [(407, "172.29.53.1:60920"),
                                                           (200, "172.29.53.1:60920")]
    assert line(shown[1]).endswith(" proxy  ntlm      GET http://web/matrix/w/a → 200 NTLM "
                                   "user AD\\alice")
    assert line(shown[0]).endswith("→ 407 NTLM")
    assert line(opened).endswith(" faults ntlm      connection open from 172.29.53.1:60920")
    assert len(events(Watch(None, None, None, True), "proxy", SQUID)) == 3   # --all


def test_filters_keep_only_the_events_that_name_what_was_asked():
    def kept(port=None, user=None, client=None):
        watch = Watch(port, user, client, False)
        watch.events("faults", OPEN).__next__()      # remembers the connection's client
        return [(e["source"], e.get("status")) for e in
                events(watch, "proxy", SQUID) + events(watch, "dc", SAMLOGON)
                + events(watch, "dc", WRONG)]

    assert kept(port="ntlm") == [("proxy", 407), ("proxy", 200)]
    assert kept(port="basic") == []
    assert kept(user="alice") == [("proxy", 200), ("dc", "NT_STATUS_OK")]
    assert kept(user="ALICE@AD.EXAMPLE.COM") == []          # the logged form is AD\alice
    assert kept(user="AD\\bob") == [("dc", "NT_STATUS_WRONG_PASSWORD")]
    assert kept(client="172.29.53.1") == [("proxy", 407), ("proxy", 200)]
    assert kept(client="172.29.53.12:47562") == [("dc", "NT_STATUS_OK")]


def test_a_refused_login_reads_as_one():
    [wrong] = events(Watch(None, None, None, False), "dc", WRONG)
    assert line(wrong).endswith("LDAP,simple bind: AD\\bob (Plaintext) from "
                                "172.29.53.12:40000: NT_STATUS_WRONG_PASSWORD")


def test_a_line_before_its_connection_is_named_once_the_fault_layer_has_spoken():
    watch = Watch(None, None, "172.29.53.1", False)
    early = list(watch.events("proxy", SQUID))           # squid's tail was quicker
    list(watch.events("faults", OPEN))
    assert [watch.shown(watch.named(e)) for e in early] == [True, True, False]
