"""The scenario catalogue's static part: names, descriptions, what must happen.

pytest parametrizes on these names before any lab runs; `lab.scenarios.scenario` turns
each into the environment a client needs, from a running lab's endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lab.errors import LabError

Expect = Literal["ok", "proxy-auth", "forbidden", "unreachable", "tls-untrusted", "timeout",
                 "reset", "origin-error"]
#: The outcomes a scenario can expect besides `ok`: the client must fail, cleanly.
REFUSALS: tuple[str, ...] = ("proxy-auth", "forbidden", "unreachable", "tls-untrusted",
                             "timeout", "reset", "origin-error")
#: (toxic, attributes, stream) applied, in order, to a fault scenario's own proxy.
Fault = tuple[tuple[str, dict[str, int], str], ...]
#: What a host client calls the Negotiate proxy (the SPN HTTP/localhost exists for it).
NEGOTIATE_PROXY_NAME = "localhost"
NO_PROXY = "127.0.0.1,localhost"
class UnknownScenario(LabError):
    """A scenario name that is not in the catalogue (a usage error)."""


@dataclass(frozen=True)
class Spec:
    """The static part of a scenario: what it is and what must happen."""

    name: str
    description: str
    expect: Expect
    port: str | None                  # lab proxy port; None: a closed port (proxy-down)
    #: "kerberos": a ticket in KRB5CCNAME; "no-ticket": the realm configured, the cache
    #: empty; "domain-password": WORKGROUP\\user and password in the proxy URL, the realm
    #: configured and the ticket cache empty (a domain user not logged in to Kerberos);
    #: "ticket-and-password": a ticket and WORKGROUP\\user:password, the proxy called by
    #: its address, for which no service principal exists
    #: "disabled", "password-expired", "locked", "lockout-budget": the `corp` port's
    #: account in that state (`ProxyPort.accounts`), with its right password (the
    #: budget's: a wrong one)
    credentials: Literal["none", "valid", "wrong", "denied", "kerberos", "no-ticket",
                         "domain-password", "ticket-and-password", "uncached", "disabled",
                         "password-expired", "locked", "lockout-budget"] = "none"
    scheme: Literal["http", "https"] = "http"
    direct: bool = False              # the client must bypass the proxy (no_proxy)
    #: what the CA variables trust besides the system's CAs: the web service's own
    #: CA ("lab"), TLS inspection's root and issuing CAs ("corporate"), its root alone
    #: ("corporate-root"), or nothing more
    trust: Literal["lab", "corporate", "corporate-root", "system"] = "lab"
    origin: str = "web"               # which of the web service's names the URL uses
    pac: bool = False                 # the client gets only the PAC URL, no proxy variables
    fault: Fault | None = None        # faults on a proxy of its own (lab.scenarios.fault_gateway)
    query: str = ""                   # asked of the origin (`?status=503`, `?bytes=N`)
    origin_reached: bool = False      # a refusal that happens after the origin answered
    #: a lab service frozen while the client runs (`lab fault pause`). It breaks every
    #: other client of the lab, so only `lab matrix` runs such a scenario: alone, after
    #: the others, and it waits until the lab is healthy again before it returns.
    pause: str | None = None
    within: float | None = None       # a refusal must come within this many seconds
    #: wrong passwords the DC may count from the run (lab.scenarios.lockout)
    budget: int | None = None


SPECS: tuple[Spec, ...] = (
    Spec("noauth", "open proxy, no authentication", "ok", "noauth"),
    Spec("noauth-https", "open proxy, HTTPS through CONNECT", "ok", "noauth", scheme="https"),
    Spec("basic", "Basic against htpasswd; user:password in the proxy URL", "ok", "basic",
         "valid"),
    Spec("basic-https", "Basic, HTTPS through an authenticated CONNECT", "ok", "basic",
         "valid", "https"),
    Spec("basic-wrong-password", "Basic with a wrong password: must fail on 407",
         "proxy-auth", "basic", "wrong"),
    Spec("basic-no-credentials", "Basic port, no credentials in the proxy URL: must fail "
         "on 407", "proxy-auth", "basic"),
    Spec("ldap", "Basic checked against the AD DC over LDAP", "ok", "ldap", "valid"),
    Spec("ldap-https", "LDAP-checked Basic, HTTPS through CONNECT", "ok", "ldap", "valid",
         "https"),
    Spec("negotiate", "Kerberos (Negotiate): a domain user's ticket in KRB5CCNAME, proxy "
         "called localhost (no credentials in the URL)", "ok", "negotiate", "kerberos"),
    Spec("negotiate-https", "Kerberos (Negotiate), HTTPS through CONNECT", "ok", "negotiate",
         "kerberos", "https"),
    Spec("negotiate-no-ticket", "Kerberos (Negotiate) port, the realm configured but the "
         "ticket cache in KRB5CCNAME empty (a user not logged in to the domain): must fail "
         "on 407 within 5 s, not hang or prompt", "proxy-auth", "negotiate", "no-ticket",
         within=5),
    Spec("ntlm", "NTLM via winbind; the domain goes in the user name: {workgroup}\\user "
         "(percent-encoded {workgroup}%5Cuser in the URL) or user@{realm}", "ok", "ntlm",
         "valid"),
    Spec("ntlm-https", "NTLM, HTTPS through CONNECT", "ok", "ntlm", "valid", "https"),
    Spec("ntlm-challenge-close", "NTLM, the proxy's first 407 (the one offering NTLM, before "
         "any type-1) comes with Connection: close, as some proxies and load balancers send "
         "it: the client must open a new connection and run the whole handshake there "
         "(curl/curl#954, genotrance/px#29)", "ok", "ntlm", "valid",
         fault=(("ntlm_close", {"leg": 1}, "downstream"),)),
    Spec("ntlm-type2-close", "NTLM, the connection closed after the type-2 challenge: the "
         "type-3 answer can only travel on the connection that carried it, so no client can "
         "succeed: must fail, promptly, not loop", "proxy-auth", "ntlm", "valid",
         fault=(("ntlm_close", {"leg": 2}, "downstream"),)),
    Spec("group", "Basic against AD, plus membership of the proxy's AD group", "ok", "group",
         "valid"),
    Spec("group-https", "AD group port, HTTPS through CONNECT", "ok", "group", "valid",
         "https"),
    Spec("group-denied", "a valid domain user outside the group: must fail on 403",
         "forbidden", "group", "denied"),
    Spec("corp-kerberos", "the usual company proxy: one port offering Negotiate, NTLM and "
         "Basic, in that order; a domain user's ticket in KRB5CCNAME, the proxy called "
         "localhost, no credentials in the URL: the client must pick Negotiate", "ok",
         "corp", "kerberos"),
    Spec("corp-kerberos-https", "the company proxy (Negotiate, NTLM, Basic on one port), a "
         "Kerberos ticket, HTTPS through CONNECT", "ok", "corp", "kerberos", "https"),
    Spec("corp-ntlm", "the company proxy (Negotiate, NTLM, Basic on one port), a domain user "
         "not logged in to Kerberos (ticket cache empty): {workgroup}\\user and password in "
         "the proxy URL; the client must move past Negotiate to NTLM or Basic (curl's "
         "--proxy-anyauth does not: curl/curl#3726)", "ok", "corp", "domain-password"),
    Spec("corp-ntlm-https", "the company proxy, no ticket, {workgroup}\\user and password: "
         "HTTPS through CONNECT", "ok", "corp", "domain-password", "https"),
    Spec("corp-basic-only", "the company proxy (Negotiate, NTLM, Basic on one port), user and "
         "password in the proxy URL: a client that knows only Basic must get through on the "
         "Basic it also offers (libgit2/libgit2#4126: libcurl's any-auth picks Negotiate and "
         "fails)", "ok", "corp", "valid"),
    Spec("corp-basic-only-https", "the company proxy, user and password, Basic: HTTPS "
         "through CONNECT", "ok", "corp", "valid", "https"),
    Spec("negotiate-alias", "the company proxy called by a name with no service principal "
         "(here its address; in the lab network the DNS alias webproxy.<domain>, a CNAME to "
         "the proxy, whose SPN is the canonical name's), a ticket in KRB5CCNAME and "
         "{workgroup}\\user and password in the proxy URL: the ticket is no use for that "
         "name, so the client must fall back to NTLM or Basic, promptly (genotrance/px#110, "
         "curl/curl#7363)", "ok", "corp", "ticket-and-password"),
    Spec("account-disabled", "the company proxy, a domain user whose account is disabled, "
         "with its right password (Basic in the proxy URL): must fail on 407 within 5 s",
         "proxy-auth", "corp", "disabled", within=5),
    Spec("password-expired", "the company proxy, a domain user whose password has expired "
         "(pwdLastSet = 0: must change it at the next logon), with that password: must fail "
         "on 407 within 5 s", "proxy-auth", "corp", "password-expired", within=5),
    Spec("account-locked", "the company proxy, a domain user locked out (the lab locks it "
         "first with wrong passwords, under its lockout policy: a PSO on group "
         "lab-lockout), with its right password: must fail on 407 within 5 s",
         "proxy-auth", "corp", "locked", within=5),
    Spec("lockout-budget", "the company proxy, a domain user under a lockout policy given a "
         "wrong password: must fail on 407, and the DC must count no more than 3 wrong "
         "passwords from the run (a sync daemon that retries a wrong password locks its "
         "user out of Windows); the lab unlocks the user after every run", "proxy-auth",
         "corp", "lockout-budget", budget=3),
    Spec("no-proxy", f"no_proxy={NO_PROXY} covers the target: reach it directly, with the "
         "proxy variables set", "ok", "noauth", direct=True),
    Spec("proxy-down", "the proxy variables point at a closed port: must fail, promptly",
         "unreachable", None),
    Spec("tls-untrusted", "HTTPS through the open proxy, CA variables without the lab's CA: "
         "must refuse the origin's certificate", "tls-untrusted", "noauth", scheme="https",
         trust="system"),
    Spec("bump-trusted", "TLS inspection: the bump port re-signs the origin with the "
         "corporate issuing CA, under the corporate root (corporate_ca in `lab status "
         "--json`); the CA variables trust both instead of the origin's own CA", "ok", "bump",
         scheme="https", trust="corporate"),
    Spec("bump-chain", "TLS inspection, the CA variables trust the corporate root alone, as "
         "most company machines do: the client must build the chain from the issuing CA "
         "the proxy sends with each certificate", "ok", "bump", scheme="https",
         trust="corporate-root"),
    Spec("bump-untrusted", "TLS inspection, the client trusts the origin's own CA but not "
         "the corporate one (as a client shipping its own CA bundle does): must refuse the "
         "re-signed certificate", "tls-untrusted", "bump", scheme="https"),
    Spec("bump-exempt", "TLS inspection spares the names in [proxy] bump_exempt: HTTPS to "
         "bank.<domain> through the bump port keeps the origin's own certificate",
         "ok", "bump", scheme="https", origin="bank"),
    Spec("pac", "proxy auto-config: no proxy variables, only the PAC URL in auto_proxy "
         "(Chromium's variable) and LAB_PAC_URL; the client must fetch the PAC, run "
         "FindProxyForURL and use the proxy it names (pypac's PACSession, Node's "
         "pac-proxy-agent); curl cannot", "ok", "noauth", pac=True),
    Spec("pac-failover", "PAC failover: for failover.<domain> the PAC lists a dead proxy "
         "first (nothing listens on its port), then the open proxy: the client must move on "
         "to the live one, not give up (samuong/alpaca#49)", "ok", "noauth", pac=True,
         origin="failover"),
    Spec("pac-direct", "PAC DIRECT: an address of this machine (127.0.0.1; isInNet) is one "
         "the PAC sends DIRECT: the client must fetch it without a proxy", "ok", "noauth",
         pac=True, direct=True),
    Spec("pac-auth", "PAC to an authenticating proxy: for secure.<domain> the PAC names the "
         "company proxy (the corp port: Negotiate, NTLM, Basic); a PAC carries no "
         "credentials, so the user and password come in LAB_PROXY_USER and "
         "LAB_PROXY_PASSWORD: the client must authenticate", "ok", "corp", "valid", pac=True,
         origin="secure"),
    Spec("socks5", "SOCKS5 with a username and password (RFC 1929), names resolved by the "
         "proxy: socks5h://user:password@host:port in all_proxy and the proxy variables",
         "ok", "socks", "valid"),
    Spec("socks5-wrong-password", "SOCKS5 with a wrong password: must fail on the server's "
         "refusal", "proxy-auth", "socks", "wrong"),
    Spec("proxy-latency", "the open proxy answers 2 s late: must still work (the client's "
         "own timeout must allow for it)", "ok", "noauth",
         fault=(("latency", {"latency": 2000}, "downstream"),)),
    Spec("proxy-reset-midstream", "the open proxy resets the connection in the middle of a "
         "4 MB body: must fail, never report a truncated body as success", "reset", "noauth",
         fault=(("bandwidth", {"rate": 400}, "downstream"),
                ("reset_peer", {"timeout": 1500}, "downstream")),
         query="?bytes=4000000", origin_reached=True),
    Spec("proxy-stall", "the open proxy takes the request and never answers: the client "
         "must give up by its own bound", "timeout", "noauth",
         fault=(("timeout", {"timeout": 0}, "downstream"),), origin_reached=True),
    Spec("origin-503", "the origin answers 503 (Retry-After: 1) through the open proxy: "
         "must fail, not treat the error page as the content", "origin-error", "noauth",
         query="?status=503", origin_reached=True),
    Spec("dc-down", "the domain controller is frozen: the ldap port cannot check a user "
         "it has not cached and answers 407 within ~2 s: must fail, promptly (a user "
         "validated in the last two hours would still pass; `lab matrix` runs this one "
         "alone, after the others)", "proxy-auth", "ldap", "uncached", pause="dc"),
)
NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)
_BY_NAME = {spec.name: spec for spec in SPECS}


def spec(name: str) -> Spec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownScenario(f"no scenario {name!r}; the catalogue has: "
                              + ", ".join(NAMES)) from None


def select(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[str]:
    """Catalogue names in catalogue order: all, or `only`, minus `skip` (each checked)."""
    only, skip = list(only), list(skip)
    for name in (*only, *skip):
        spec(name)
    chosen = [n for n in NAMES if (not only or n in only) and n not in skip]
    if not chosen:
        raise UnknownScenario("--only/--skip leave no scenario to run")
    return chosen


def split_exclusive(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(names that may run side by side, names that pause a service and so run alone)."""
    names = list(names)
    return ([n for n in names if spec(n).pause is None],
            [n for n in names if spec(n).pause is not None])


#: the lab ports whose answers never involve the DC: no authentication, the htpasswd
#: users of `basic`, dante's own users (the `ldap`, `group`, `negotiate`, `ntlm` and `corp`
#: ports check with the DC)
DC_FREE_PORTS = frozenset({"noauth", "basic", "bump", "socks"})


def needs_dc(name: str) -> bool:
    """Whether the scenario's run involves the DC (a PAC names any port: it may)."""
    s = spec(name)
    return s.pac or s.pause is not None or (s.port is not None
                                             and s.port not in DC_FREE_PORTS)


def describe(workgroup: str = "WORKGROUP", realm: str = "REALM") -> list[dict[str, str]]:
    """The catalogue as `lab status --json` lists it: name, description, expect."""
    return [{"name": s.name, "description": s.description.format(workgroup=workgroup,
                                                                 realm=realm),
             "expect": s.expect} for s in SPECS]
