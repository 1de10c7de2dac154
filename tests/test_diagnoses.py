"""Findings from a run's evidence (lab.scenarios.diagnoses), over recorded rows: each one
where its evidence is, none where a correct client ran."""

from lab.scenarios.diagnoses import diagnose


def row(name, verdict="fail", proxy=(), origin=(), stderr=""):
    return {"name": name, "verdict": verdict, "proxy": list(proxy), "origin": list(origin),
            "stdout": "", "stderr": stderr}


def seen(status, port, offered=None, user=None, connection="10.0.0.2:40000", url="/t"):
    return {"time": 0.0, "port": port, "method": "GET", "status": status, "offered": offered,
            "user": user, "connection": connection, "server_port": None, "url": url}


def test_a_correct_client_gets_no_finding():
    ntlm = [seen(407, "corp"), seen(407, "corp", "ntlm"), seen(200, "corp", "ntlm", "AD\\a")]
    assert diagnose(row("corp-ntlm", "pass", ntlm, [{"client": "proxy"}])) == []
    assert diagnose(row("basic-wrong-password", "pass", [seen(407, "basic", "basic")])) == []
    assert diagnose(row("no-proxy", "pass", origin=[{"client": "gw"}])) == []


def test_never_answered_the_407():
    [found] = diagnose(row("corp-ntlm", proxy=[seen(407, "corp"), seen(407, "corp")]))
    assert found.startswith("never answered the 407: 2 request(s), none with credentials")


def test_answered_one_scheme_with_another():
    [found] = diagnose(row("ntlm", proxy=[seen(403, "ntlm", "basic")]))
    assert found == "answered the NTLM challenge with Basic (ntlm port: 403)"
    [found] = diagnose(row("negotiate", proxy=[seen(407, "negotiate"),
                                               seen(403, "negotiate", "basic")]))
    assert found.startswith("answered the Negotiate challenge with Basic")


def test_went_direct_and_what_the_client_said():
    [found] = diagnose(row("noauth", stderr="curl: (6) Could not resolve host: web.ad"))
    assert found.startswith("sent no request to the proxy (went direct): the lab's names "
                            "resolve nowhere on this host (inferred")
    [found] = diagnose(row("pac", stderr="getaddrinfo ENOTFOUND web.ad.example.com"))
    assert found.startswith("the PAC named a proxy; the client went direct")
    assert diagnose(row("pac")) == []                   # a PAC client: nothing inferred
    assert diagnose(row("noauth-https")) == []          # a tunnel: absence says nothing
    assert diagnose(row("proxy-down")) == []            # nothing to reach: as it must


def test_ignored_no_proxy():
    found = diagnose(row("no-proxy", proxy=[seen(200, "noauth")]))
    assert found == ["ignored no_proxy: 1 request(s) went through the proxy"]


def test_a_refused_password_tried_again_is_a_warning_on_a_pass():
    retries = [seen(407, "basic")] + [seen(407, "basic", "basic")] * 3
    [found] = diagnose(row("basic-wrong-password", "pass", retries))
    assert found.startswith("tried a refused password 3 times")


def test_a_row_saved_without_evidence_gets_none():
    assert diagnose({"name": "basic", "verdict": "fail"}) == []


def test_stopped_at_the_dead_proxy_a_pac_named():
    [found] = diagnose(row("pac-failover", stderr="curl: (7) Failed to connect to 127.0.0.1 "
                                                  "port 1 after 0 ms: Connection refused"))
    assert found.startswith("stopped at a proxy the PAC named that refuses connections")


def test_resolved_the_name_itself_on_socks():
    [found] = diagnose(row("socks5", stderr="curl: (6) Could not resolve host: web.ad"))
    assert found.startswith("resolved the name itself (socks5 instead of socks5h)")
    assert diagnose(row("socks5", stderr="curl: (97) ... connection refused")) == []
    assert diagnose(row("socks5-wrong-password", "pass")) == []


def test_a_request_sent_again_on_a_new_connection_each_time():
    again = [seen(407, "ntlm", "ntlm", connection=f"10.0.0.2:{40000 + n}") for n in range(12)]
    [found] = diagnose(row("ntlm", proxy=again))
    assert found.startswith("12 connections for 1 request(s): the same request sent again")
    assert "the handshake must stay on one" in found
    # a 407 that closed its connection, then the request again: two connections, no finding
    closed = [seen(407, "basic", connection="a:1"), seen(200, "basic", "basic", "u",
                                                         connection="a:2")]
    assert diagnose(row("basic", "pass", closed, [{"client": "proxy"}])) == []


def test_every_request_on_its_own_connection_is_a_warning_on_a_pass():
    each = [seen(200, "noauth", connection=f"a:{n}", url=f"/t/{n}") for n in range(3)]
    [found] = diagnose(row("noauth", "pass", each, [{"client": "proxy"}]))
    assert found.startswith("a new connection for every request (3 requests, 3 connections)")
    kept = [seen(200, "noauth", connection="a:1", url=f"/t/{n}") for n in range(3)]
    assert diagnose(row("noauth", "pass", kept, [{"client": "proxy"}])) == []
    two = [seen(200, "noauth", connection=f"a:{n}", url=f"/t/{n}") for n in range(2)]
    assert diagnose(row("noauth", "pass", two, [{"client": "proxy"}])) == []
