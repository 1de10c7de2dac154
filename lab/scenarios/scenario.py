"""The scenario catalogue: every corporate situation a client meets, as an environment.

A scenario is what a client on this host needs to face one situation (a proxy
that wants Basic, Kerberos, NTLM, a group; wrong credentials; a proxy that is
down; a host that must be reached directly; a TLS origin it must not trust)
and the outcome it must reach: `ok`, or a named refusal. Everything is in
the environment, in the variables clients already read (`http_proxy`,
`no_proxy`, `KRB5CCNAME`, `SSL_CERT_FILE`, ...), so any client in any language
can be proved without code changes, and without `/etc/hosts` edits or
`--resolve`: proxied URLs name `web.<domain>` (the proxy resolves it), the
Negotiate proxy is called `localhost` (its account holds `HTTP/localhost`, the
scenario's `KRB5_CONFIG` maps `localhost` to the realm).

The names, descriptions and expectations are static (`SPECS`): pytest
parametrizes on them before any lab runs. The objects are built from a running
lab's endpoints by `build_scenarios`.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.clients.directory import NOBODYS_PASSWORD, Directory
from lab.config.users import LOCKOUT_THRESHOLD
from lab.endpoints import ACCOUNT_ROLES, CORPORATE_ISSUING_CA_FILE, LOOPBACK, Endpoints
from lab.errors import LabError
from lab.scenarios import jvm
from lab.scenarios.catalogue import (
    NAMES,
    NEGOTIATE_PROXY_NAME,
    NO_PROXY,
    REFUSALS,
    Expect,
    Spec,
    spec,
)
from lab.scenarios.clientenv import (
    CA_VARIABLES,
    MANAGED_VARIABLES,
    PAC_CREDENTIAL_VARIABLES,
    PAC_VARIABLES,
    closed_port,
    copy_private,
    write_ca_bundles,
)
from lab.scenarios.lockout import LOCK_FILE, LockoutWatch

#: the credentials of the scenarios that call the proxy by its Kerberos name, with the
#: realm configured (KRB5_CONFIG): a ticket in the cache, or none
KERBEROS = ("kerberos", "no-ticket")
#: the credentials of the scenarios whose client has the realm and an empty ticket cache
NO_TICKET = ("no-ticket", "domain-password")
#: ... and of those whose client has a ticket
TICKET = ("kerberos", "ticket-and-password")
#: WORKGROUP\\user in the proxy URL, as NTLM wants it
DOMAIN_USER = ("domain-password", "ticket-and-password")
#: the scenarios the lab's directory administrator must prepare (lab.clients.directory)
NEEDS_DIRECTORY = ("locked", "lockout-budget")


@dataclass(frozen=True)
class Verdict:
    passed: bool
    got: str                    # what happened, in a few words
    reason: str                 # why that passes or fails


@dataclass(frozen=True)
class Scenario:
    """One scenario of a running lab: the environment a client needs, the URLs
    to fetch, what must happen, and a way to ask the origin what reached it."""

    name: str
    description: str
    expect: Expect
    url: str                    # what the scenario is about (HTTPS for the -https ones)
    https_url: str              # the same token over HTTPS
    env: Mapping[str, str]
    scheme: str
    direct: bool
    token: str                  # /matrix/<run>/<name>: the origin records under it
    web_url: str = field(repr=False)                 # the origin, directly (evidence)
    proxy_lab_address: str | None = field(default=None, repr=False)
    #: (scheme:user, password) this scenario sends, or None. squid keeps ONE cached
    #: credential per scheme and user name, across ports: a wrong password in flight
    #: fails a concurrent right one, so `lab matrix` never overlaps runs that send
    #: the same user different passwords.
    credential: tuple[str, str] | None = field(default=None, repr=False)
    origin_reached: bool = False      # the origin may see a request this scenario refuses
    within: float | None = None       # a refusal must come within this many seconds
    budget: int | None = None         # wrong passwords the DC may count from the run
    #: counts them (`lockout-budget`); `watching()` holds its user for one run
    lockout: LockoutWatch | None = field(default=None, repr=False, compare=False)

    def watching(self) -> contextlib.AbstractContextManager[Any]:
        """Hold what this scenario measures for one client run (lockout-budget's user:
        its count cleared, no other run counting with it); nothing for the others."""
        return self.lockout.watching() if self.lockout else contextlib.nullcontext()

    def attempts(self) -> int | None:
        """Wrong passwords the DC counted so far in `watching()` (lockout-budget)."""
        return self.lockout.attempts() if self.lockout else None

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) without any variable a
        scenario owns, plus this scenario's: what a client is run with."""
        base = os.environ if base is None else base
        clean = {k: v for k, v in base.items() if k not in MANAGED_VARIABLES}
        return {**clean, **self.env}

    def apply(self, monkeypatch) -> None:
        """Put this scenario's environment into the current process (pytest's
        `monkeypatch` undoes it), for clients that run in-process."""
        for name in MANAGED_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    def origin_saw(self, token: str | None = None, timeout: float = 5) -> list[dict[str, Any]]:
        """What the origin recorded under `token` (default: this scenario's own),
        asked of the web service directly, never through a proxy."""
        token = token or self.token
        query = urllib.parse.urlencode({"prefix": token})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.web_url}_lab/requests?{query}", timeout=timeout) as answer:
                records = json.load(answer)["requests"]
        except (OSError, ValueError, KeyError) as exc:
            raise LabError(f"cannot ask the web service what it saw ({self.web_url}): "
                           f"{exc}; is the lab up?") from None
        return [r for r in records if r["path"] == token or r["path"].startswith(token + "/")]

    def verdict(self, exit_code: int | None, timed_out: bool = False,
                seconds: float | None = None) -> Verdict:
        """`lab matrix`'s verdict for a client run that ended with `exit_code` after
        `seconds`: `.passed`, `.got`, `.reason` (asks the origin for its evidence, and
        the DC for lockout-budget's: call it inside `watching()`)."""
        return judge(self, exit_code, timed_out, self.origin_saw(), seconds=seconds,
                     attempts=self.attempts())


def judge(scenario: Scenario, exit_code: int | None, timed_out: bool,
          records: Sequence[Mapping[str, Any]], *, seconds: float | None = None,
          attempts: int | None = None) -> Verdict:
    """The verdict rules; pure, so unit-tested alone.

    Exit codes alone lie: a client that exits 0 without fetching anything, or that
    went around the proxy, would pass. So a success counts only if the origin's
    records (what reached it under the scenario's token) show the request arrived
    the way the scenario says (through the proxy, or directly for `no-proxy`) and
    no proxy credentials leaked to it. A refusal counts if the client failed
    within the bound and nothing reached the origin; `within` and `budget` bound
    how long it took and how many wrong passwords the DC counted from it."""
    if timed_out or exit_code is None:
        return Verdict(False, "timeout", "still running at the bound: killed (a client must "
                       "finish or fail by itself)")
    if scenario.expect in REFUSALS:
        if exit_code == 0:
            return Verdict(False, "exit 0", f"succeeded where it must be refused "
                           f"({scenario.expect})")
        if records and not scenario.origin_reached:
            return Verdict(False, f"exit {exit_code}", "failed, but a request reached the "
                           "origin: the refusal was not enforced where it should be")
        if scenario.within is not None and seconds is not None and seconds > scenario.within:
            return Verdict(False, f"exit {exit_code} after {seconds:.1f} s", "refused, but "
                           f"later than {scenario.within:g} s")
        if scenario.budget is not None and attempts is not None:
            if attempts > scenario.budget:
                return Verdict(False, f"exit {exit_code}, {attempts} wrong passwords",
                               f"the DC counted {attempts} wrong passwords from this run, "
                               f"over the budget of {scenario.budget}: a client that retries "
                               "a wrong password locks its user out")
            return Verdict(True, f"exit {exit_code}", f"refused ({scenario.expect} expected)"
                           f" after {attempts} wrong password(s), within the budget of "
                           f"{scenario.budget}")
        return Verdict(True, f"exit {exit_code}", f"refused ({scenario.expect} expected)")
    if exit_code != 0:
        return Verdict(False, f"exit {exit_code}", "failed where it should work")
    if not records:
        return Verdict(False, "exit 0, origin saw nothing", "exited 0 without fetching "
                       f"{scenario.url}")
    proxy = scenario.proxy_lab_address
    via_proxy = [r for r in records if r.get("client") == proxy]
    if scenario.direct and via_proxy:
        return Verdict(False, "ok, via the proxy", "no_proxy covers the target, yet the "
                       "request went through the proxy")
    if not scenario.direct and len(via_proxy) != len(records):
        return Verdict(False, "ok, bypassed the proxy", "a request reached the origin "
                       "without going through the proxy")
    if any(r.get("proxy_authorization") for r in records):
        return Verdict(False, "ok, credentials leaked", "Proxy-Authorization reached the "
                       "origin")
    if not any(r.get("scheme") == scenario.scheme for r in records):
        return Verdict(False, f"ok, no {scenario.scheme}", f"the origin saw no "
                       f"{scenario.scheme.upper()} request for {scenario.url}")
    how = "directly" if scenario.direct else "through the proxy"
    return Verdict(True, "ok", f"the origin saw {len(records)} request(s) {how}")


def negotiate_proxy_name(endpoints: Endpoints) -> str:
    """What a host client calls the Negotiate proxy (an SPN HTTP/<name> exists for
    it): `localhost`, or a remote engine's host."""
    address = endpoints.proxy["negotiate"].connect_address
    return NEGOTIATE_PROXY_NAME if address == LOOPBACK else address


def only_under_matrix(name: str) -> str:
    """Why a scenario that pauses a service cannot run outside `lab matrix`."""
    return (f"{name} pauses the lab's {spec(name).pause}, which breaks every other client of "
            f"the lab: only `lab matrix` runs it (alone, after the others, then heals the "
            f"lab): `lab matrix --only {name} -- CMD`")


def _proxy_url(s: Spec, endpoints: Endpoints, down_port: int,
               gateways: Mapping[str, int]) -> tuple[str, tuple[str, str] | None]:
    """The proxy URL (credentials percent-encoded in it) and the credential it sends."""
    if s.port is None:
        return f"http://{LOOPBACK}:{down_port}", None
    proxy = endpoints.proxy[s.port]
    where = f"{proxy.connect_address}:{proxy.port}"       # 127.0.0.1, or a remote engine
    if s.fault is not None:                  # a faulty proxy of its own, in front of the port
        if s.name not in gateways:
            raise LabError(f"{s.name} needs a faulty proxy that lives as long as its client: "
                           f"run it with `lab run {s.name} -- CMD` or `lab matrix`")
        where = f"{LOOPBACK}:{gateways[s.name]}"
    if s.credentials in KERBEROS:
        return f"http://{negotiate_proxy_name(endpoints)}:{proxy.port}", None
    account = proxy.accounts.get(s.credentials, {}) if s.credentials in ACCOUNT_ROLES else {}
    user, password = {"valid": (proxy.username, proxy.password),
                      "domain-password": (proxy.username, proxy.password),
                      "ticket-and-password": (proxy.username, proxy.password),
                      "wrong": (proxy.wrong_username, NOBODYS_PASSWORD),
                      "denied": (proxy.denied_username, proxy.denied_password),
                      "uncached": (proxy.uncached_username, proxy.uncached_password),
                      }.get(s.credentials, (account.get("username"), account.get("password")))
    if s.credentials == "lockout-budget":
        password = NOBODYS_PASSWORD
    if s.credentials != "none" and user is None:
        raise LabError(f"{s.name}: these endpoints name no {s.credentials} user for the "
                       f"{s.port} port (an older lab?): `lab up`")
    if user is None:
        return f"{proxy.scheme}://{where}", None
    password = password or ""
    # squid caches one credential per scheme and user (see Scenario.credential); dante none
    credential = None if proxy.scheme != "http" else (
        f"{'ntlm' if s.port == 'ntlm' else 'basic'}:{user}", password)
    if s.port == "ntlm" or s.credentials in DOMAIN_USER:
        user = f"{endpoints.dc.workgroup}\\{user}"
    quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
    return f"{proxy.scheme}://{quote(user)}:{quote(password)}@{where}", credential


def build_scenarios(endpoints: Endpoints, names: Iterable[str] | None = None, *, run: str,
                    workdir: Path, down_port: int | None = None,
                    gateways: Mapping[str, int] | None = None,
                    exclusive: bool = False,
                    directory: Directory | None = None) -> list[Scenario]:
    """The named scenarios (default: all) of the running lab, for run id `run`.

    Kerberos scenarios get a fresh ticket (one kinit, one ccache copy each, so
    parallel clients never share a cache) under `workdir`, which the caller
    owns and removes. `down_port` is the closed port of `proxy-down`
    (default: one free now; hold a `closed_port()` to be sure it stays closed).
    Scenarios that pause a service (`dc-down`) are refused unless `exclusive`: the
    caller runs them alone, with that service paused (`lab matrix`). `directory` (the
    DC as its administrator) locks `account-locked`'s user now, and counts
    `lockout-budget`'s wrong passwords in `Scenario.watching()`.
    """
    chosen = [spec(n) for n in (NAMES if names is None else names)]
    for s in chosen:
        if s.pause is not None and not exclusive:
            raise LabError(only_under_matrix(s.name))
    for s in chosen:
        if s.credentials in NEEDS_DIRECTORY and directory is None:
            raise LabError(f"{s.name} needs the lab's directory administrator (to lock or "
                           f"unlock its user): run it with `lab matrix`, `lab run {s.name} -- "
                           "CMD` or the lab_scenario fixture")
    if endpoints.proxy_lab_address is None:
        raise LabError("these endpoints do not say where the proxy sits on the lab network "
                       "(read from JSON?): build them with Stack().endpoints()")
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir.chmod(0o700)                # ticket caches are credentials
    wants_corporate = any(s.trust.startswith("corporate") for s in chosen)
    state = Path(endpoints.web.ca_cert).parent
    corporate = Path(endpoints.corporate_ca) if endpoints.corporate_ca and wants_corporate \
        else None
    bundles = write_ca_bundles(state, Path(endpoints.web.ca_cert), corporate)
    java_cas = {"lab": [Path(endpoints.web.ca_cert)]}
    if corporate is not None:
        java_cas.update({"corporate": [corporate, corporate.parent / CORPORATE_ISSUING_CA_FILE],
                         "corporate-root": [corporate]})
    java_stores = jvm.trust_stores(state, {kind: cas for kind, cas in java_cas.items()
                                           if any(s.trust == kind for s in chosen)})
    session = None
    if any(s.credentials in (*TICKET, *NO_TICKET) for s in chosen):
        # imported only here (dnspython: ~70 ms): `lab matrix` builds its longest
        # scenarios, which need no ticket, first, and starts them at once
        from lab.clients.ad import kinit

        user = endpoints.proxy["negotiate"]
        kdc = endpoints.dc.kerberos
        session = kinit(user.username or "", user.password or "", endpoints.dc.realm, kdc.host,
                        kdc.port, directory=workdir / "krb5",
                        extra_hosts=(negotiate_proxy_name(endpoints),))
    if down_port is None:
        with closed_port() as sock:
            down_port = sock.getsockname()[1]
    web_host = urllib.parse.urlsplit(endpoints.web.url).hostname
    no_proxy = NO_PROXY if web_host in NO_PROXY.split(",") else f"{NO_PROXY},{web_host}"
    proxied = endpoints.web.proxy_url.rstrip("/")
    proxied_https = endpoints.web.https_proxy_url.rstrip("/")
    scenarios = []
    for s in chosen:
        token = f"/matrix/{run}/{s.name}"
        if s.direct:
            http_url = endpoints.web.url.rstrip("/") + token + s.query
            https_url = endpoints.web.https_url.rstrip("/") + token + s.query
        elif s.origin != "web":           # another of the web service's names
            origin = f"{s.origin}.{endpoints.dc.domain}"
            http_url = f"http://{origin}{token}{s.query}"
            https_url = f"https://{origin}{token}{s.query}"
        else:
            http_url, https_url = proxied + token + s.query, proxied_https + token + s.query
        proxy, credential = _proxy_url(s, endpoints, down_port, gateways or {})
        if s.pac:
            if endpoints.pac_url is None:
                raise LabError("these endpoints have no PAC URL (an older lab?): `lab up`")
            env = {name: endpoints.pac_url for name in PAC_VARIABLES}
            named = urllib.parse.urlsplit(proxy)
            if s.credentials != "none" and named.username is not None:
                env.update(zip(PAC_CREDENTIAL_VARIABLES,
                               (urllib.parse.unquote(named.username),
                                urllib.parse.unquote(named.password or "")), strict=True))
        else:
            env = {"http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy,
                   "HTTPS_PROXY": proxy}
        if proxy.startswith("socks"):     # the variable SOCKS-only clients read
            env.update(all_proxy=proxy, ALL_PROXY=proxy)
        if s.direct and not s.pac:        # with a PAC, the PAC says what goes direct
            env.update(no_proxy=no_proxy, NO_PROXY=no_proxy)
        if s.trust not in bundles:
            raise LabError(f"{s.name} needs the corporate CA, and these endpoints do not say "
                           "where it is (an older lab?): `lab up`")
        env.update({name: str(bundles[s.trust]) for name in CA_VARIABLES})
        env["JAVA_TOOL_OPTIONS"] = jvm.tool_options(
            None if s.pac else proxy, no_proxy if s.direct else None, java_stores.get(s.trust))
        if session is not None and s.credentials in (*TICKET, *NO_TICKET):
            ccache = workdir / s.name / "ccache"
            ccache.parent.mkdir(mode=0o700, exist_ok=True)
            if s.credentials in NO_TICKET:              # a cache with nothing in it
                ccache.unlink(missing_ok=True)
            else:
                copy_private(session.ccache, ccache)
            env.update(KRB5CCNAME=f"FILE:{ccache}", KRB5_CONFIG=str(session.config))
        url = https_url if s.scheme == "https" else http_url
        env.update(LAB_URL=url, LAB_HTTPS_URL=https_url, LAB_SCENARIO=s.name,
                   LAB_EXPECT=s.expect)
        lockout = None
        if directory is not None and s.credentials in NEEDS_DIRECTORY:
            user = str(endpoints.proxy[str(s.port)].accounts[s.credentials]["username"])
            if s.credentials == "locked":     # before its right password goes anywhere
                directory.lock(user, LOCKOUT_THRESHOLD)
            else:
                lockout = LockoutWatch(directory, user,
                                       Path(endpoints.web.ca_cert).parent / LOCK_FILE)
        scenarios.append(Scenario(
            s.name, s.description.format(workgroup=endpoints.dc.workgroup,
                                         realm=endpoints.dc.realm),
            s.expect, url, https_url, env, s.scheme, s.direct, token, endpoints.web.url,
            endpoints.proxy_lab_address, credential, s.origin_reached, s.within, s.budget,
            lockout))
    return scenarios
