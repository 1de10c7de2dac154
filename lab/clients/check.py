"""A quick end-to-end proof that a running lab works, for `lab check` / `make lab-up`.

Uses clients independent of lab.proxy (the standard library's urllib, and
curl for Negotiate and NTLM), so a bug in our proxy client cannot hide a broken lab.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial

from lab.clients.ad import kinit, make_resolver, query
from lab.clients.curl import proxy_args
from lab.endpoints import Endpoints, ProxyPort
from lab.errors import DiscoveryError, KerberosError
from lab.web.content import SAMPLE_RESOURCE, SIMPLERESOURCE


def fetch_via_proxy(proxy: ProxyPort, url: str, username: str | None = None,
                    password: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """(status, body) of GET `url` through the proxy port."""
    proxy_url = f"http://{proxy.connect_address}:{proxy.port}"
    handlers: list = [urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url})]
    if username is not None:
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, proxy_url, username, password)
        handlers.append(urllib.request.ProxyBasicAuthHandler(manager))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


#: Schemes urllib does not speak: checked with curl (and kinit for Negotiate).
CURL_ONLY = ("negotiate", "ntlm", "socks")


def curl_via_proxy(endpoints: Endpoints, port: str, url: str,
                   cacert: str | None = None) -> tuple[bool, str]:
    """(ok, detail) of curl through a proxy port, as a user would run it (`cacert`:
    the CA file it trusts for an HTTPS `url`)."""
    proxy = endpoints.proxy[port]
    if shutil.which("curl") is None:
        return False, "curl is not installed (make host)"
    cmd = ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"]
    if cacert:
        cmd += ["--cacert", cacert]
    env = None
    with tempfile.TemporaryDirectory(prefix="lab-check-") as tmp:
        if port == "negotiate":
            kdc = endpoints.dc.kerberos
            try:
                env = {**os.environ, **kinit(
                    proxy.username, proxy.password, endpoints.dc.realm,
                    kdc.host, kdc.port, directory=tmp).env}
            except KerberosError as exc:
                return False, str(exc)
            cmd += proxy_args(proxy)
        else:
            cmd += proxy_args(proxy, workgroup=endpoints.dc.workgroup)
        proc = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=20, env=env)
    status = proc.stdout.strip()
    return status == "200", f"HTTP {status} (curl)" if status else proc.stderr.strip()


def srv_targets(endpoints: Endpoints, name: str) -> list[tuple[str, int]]:
    resolver = make_resolver(endpoints.dns.host, endpoints.dns.port)
    answer = query(resolver, f"{name}.{endpoints.dc.domain}", "SRV")
    return sorted((str(r.target).rstrip("."), r.port) for r in answer)


def run_checks(endpoints: Endpoints) -> list[tuple[str, bool, str]]:
    """(what, ok, detail) for each check, in order; never raises for a failed check. The
    checks run side by side (each waits on the lab, none on another): `make lab-up`
    waits for the slowest, not for their sum."""
    from concurrent.futures import ThreadPoolExecutor

    url = endpoints.web.proxy_url + SIMPLERESOURCE
    checks: list[Callable[[], tuple[str, bool, str]]] = [
        partial(_proxy_check, endpoints, name, url) for name in endpoints.proxy]
    if endpoints.corporate_ca:
        checks.append(partial(_inspected_check, endpoints))
    checks += [partial(_srv_check, endpoints, record)
               for record in ("_ldap._tcp", "_kerberos._tcp", "_kpasswd._tcp")]
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        return list(pool.map(lambda check: check(), checks))


def _proxy_check(endpoints: Endpoints, name: str, url: str) -> tuple[str, bool, str]:
    what = f"GET {url} via proxy {name}"
    if name in CURL_ONLY:
        return (what, *curl_via_proxy(endpoints, name, url))
    proxy = endpoints.proxy[name]
    try:
        status, body = fetch_via_proxy(proxy, url, proxy.username, proxy.password)
    except OSError as exc:
        return what, False, str(exc)
    return what, status == 200 and body == SAMPLE_RESOURCE, f"HTTP {status}"


def _inspected_check(endpoints: Endpoints) -> tuple[str, bool, str]:
    """TLS inspection: the origin re-signed by the corporate CA, trusted alone."""
    https_url = endpoints.web.https_proxy_url + SIMPLERESOURCE
    return (f"GET {https_url} via proxy bump, trusting the corporate CA",
            *curl_via_proxy(endpoints, "bump", https_url, cacert=endpoints.corporate_ca))


def _srv_check(endpoints: Endpoints, record: str) -> tuple[str, bool, str]:
    what = f"DNS SRV {record}.{endpoints.dc.domain}"
    try:
        targets = srv_targets(endpoints, record)
    except DiscoveryError as exc:
        return what, False, str(exc)
    return (what, any(t == endpoints.dc.hostname for t, _ in targets),
            ", ".join(f"{t}:{p}" for t, p in targets))


#: Records only the DC's own dynamic update creates (the zone file has none of them).
DYNAMIC_RECORDS = ("_kpasswd._tcp", "_ldap._tcp.pdc._msdcs")


def dynamic_dns_registered(endpoints: Endpoints) -> tuple[bool, str]:
    """(arrived, detail): have the DC's dynamic DNS registrations reached bind?"""
    missing = []
    for record in DYNAMIC_RECORDS:
        try:
            srv_targets(endpoints, record)
        except DiscoveryError:
            missing.append(record)
    if missing:
        return False, "not yet (missing: " + ", ".join(missing) + ")"
    return True, "arrived (" + ", ".join(DYNAMIC_RECORDS) + ")"
