"""The lab's PAC file (`/proxy.pac`, `/wpad.dat`), generated from its configuration.

Written as company PACs are, with the functions they use, in this order:
plain names (`isPlainHostName`) and loopback go `DIRECT`; an address literal goes
`DIRECT` when it is loopback or in the lab network (`isInNet`, which needs no DNS
for a literal), else gets `otherwise`; the names listed as direct (`dnsDomainIs`,
`shExpMatch`) go `DIRECT`; names outside the lab domain get `otherwise`. Names in
the lab domain go through the configured proxy port, but for two with routes of
their own (the PAC scenarios'): `failover.<domain>` a dead proxy first, then that
one; `secure.<domain>` the `corp` port. Where the client stands decides what
follows: on the company network (the DC's name resolves into the lab network,
`dnsResolve`, and so does this machine's own address, `myIpAddress`) the fallback
entries; off it (this host, a laptop at home: the host's resolver knows no lab
names) those but DIRECT, as a company PAC sends internal names only through its
proxies off the VPN.

A PAC's addresses must work for the client that fetched it, so there are two
views of one policy: the host view (`PROXY 127.0.0.1:<published port>`, for
clients on this host through the published port; a remote engine's host instead
of 127.0.0.1) and the lab view (`PROXY
<proxy lab name>:<container port>`, for clients inside the lab network). The
web service picks the view per client address (see `lab.web.resources.PacResource`).

`dnsResolve` blocks in every PAC engine: it is asked for the DC's name only, and only
when the URL's name is in the lab domain. Standard library only.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lab.config.model import LabConfig
from lab.config.topology import PAC_AUTH_NAME, PAC_FAILOVER_NAME, PORTS_BY_NAME
from lab.errors import ConfigError
from lab.files import write_if_changed

KEYWORDS = ("PROXY", "SOCKS5", "SOCKS", "HTTPS", "DIRECT")
#: The dead proxy `failover.<domain>` is sent to first: tcpmux's port, where nothing
#: listens on any machine we know of, so a client's connection is refused at once.
DEAD_PORT = 1
#: The proxy `secure.<domain>` goes through: the usual company proxy (Negotiate, NTLM, Basic).
PAC_AUTH_PORT = "proxy_corp"
_NAME = re.compile(r"^[A-Za-z0-9*?._-]+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9._-]+:[0-9]{1,5}$")


def pac_entry(keyword: str, host: str, port: int) -> str:
    """One PAC route, e.g. `PROXY 127.0.0.1:3128` or `SOCKS5 proxy.ad.example.com:1080`."""
    entry = f"{keyword.upper()} {host}:{port}"
    _check_entry(entry)
    return entry


def _check_entry(entry: str) -> None:
    keyword, _, rest = entry.partition(" ")
    if keyword not in KEYWORDS or (keyword == "DIRECT") != (rest == "") or (
            rest and not _HOST_PORT.match(rest)):
        raise ValueError(f"not a PAC route: {entry!r} (e.g. 'PROXY host:port', 'DIRECT')")


@dataclass(frozen=True)
class PacPolicy:
    """What the PAC says, for one view."""

    domain: str                              # the lab domain, e.g. ad.example.com
    proxy: str                               # the route for lab names: one pac_entry()
    direct: tuple[str, ...] = ()             # exact names, ".suffix", or shell patterns
    fallback: tuple[str, ...] = ("DIRECT",)  # tried after `proxy` (DIRECT: on the lab network)
    otherwise: str = "DIRECT"                # names and addresses outside the lab
    comment: str = ""
    network: str = "172.29.0.0/24"           # the lab network (isInNet)
    dc: str = ""                             # a lab name that resolves on the lab network
    #: lab names with routes of their own instead of `proxy` (the fallback still follows)
    named: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        routes = (self.proxy, *self.fallback, self.otherwise, *(r for _n, r in self.named))
        for entry in (e for route in routes for e in route.split("; ")):
            _check_entry(entry)
        for name in (self.domain, *self.direct, *((self.dc,) if self.dc else ()),
                     *(n for n, _r in self.named)):
            if not _NAME.match(name):
                raise ValueError(f"not a host name or pattern: {name!r}")
        ipaddress.IPv4Network(self.network)        # ValueError if it is not one


def pac_text(policy: PacPolicy) -> str:
    """The PAC JavaScript (ES5, as every PAC engine runs) for `policy`."""

    def js(value) -> str:
        return json.dumps(value)     # ASCII-only JSON is a valid JavaScript literal

    network = ipaddress.IPv4Network(policy.network)
    net, mask = js(str(network.network_address)), js(str(network.netmask))
    on_network = "".join(f"; {entry}" for entry in policy.fallback)
    off_network = "".join(f"; {entry}" for entry in policy.fallback if entry != "DIRECT")
    def joined(suffix: str) -> str:
        return f"lead + {js(suffix)}" if suffix else "lead"

    named = "".join(f"""    if (host === {js(name.lower())}) {{ lead = {js(route)}; }}\n"""
                    for name, route in policy.named)
    domain = policy.domain.lower()
    dc = policy.dc.lower() or domain
    header = f"// {policy.comment}\n" if policy.comment else ""
    return f"""{header}// Generated by lab (lab.stack.pac_file); regenerated on every `lab up`.
function FindProxyForURL(url, host) {{
    host = host.toLowerCase();
    // intranet shortcuts and this machine
    if (isPlainHostName(host) || host === "localhost" || host === "::1" || host === "[::1]") {{
        return "DIRECT";
    }}
    // an address: isInNet needs no DNS for a literal
    if (/^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(host)) {{
        if (isInNet(host, "127.0.0.0", "255.0.0.0") || isInNet(host, {net}, {mask})) {{
            return "DIRECT";
        }}
        return {js(policy.otherwise)};
    }}
    var direct = {js(list(policy.direct))};
    for (var i = 0; i < direct.length; i++) {{
        var name = direct[i].toLowerCase();
        if (name.charAt(0) === ".") {{
            if (dnsDomainIs(host, name) || host === name.substring(1)) {{ return "DIRECT"; }}
        }} else if (shExpMatch(host, name)) {{
            return "DIRECT";
        }}
    }}
    if (host !== {js(domain)} && !dnsDomainIs(host, {js("." + domain)})) {{
        return {js(policy.otherwise)};
    }}
    var lead = {js(policy.proxy)};
{named}    // on the lab network the DC's name resolves into it, and this machine is in it
    var dc = dnsResolve({js(dc)});
    if (dc && isInNet(dc, {net}, {mask}) && isInNet(myIpAddress(), {net}, {mask})) {{
        return {joined(on_network)};
    }}
    return {joined(off_network)};
}}
"""


@dataclass(frozen=True)
class PacViews:
    """The PAC texts for clients on the host and for clients in the lab network."""

    host: str
    lab: str


def pac_views(config: LabConfig, published: Mapping[str, int | None], *,
              port_name: str = "proxy_noauth", direct: tuple[str, ...] = (),
              fallback: tuple[str, ...] = ("DIRECT",), otherwise: str = "DIRECT",
              keyword: str | None = None) -> PacViews:
    """Both views for the lab's `port_name` (a `[ports]` key, e.g. "proxy_noauth";
    `published` maps those keys to the host ports docker published, as for
    `lab.endpoints.build_endpoints`). The keyword is SOCKS5 for a port whose name
    says socks, else PROXY."""
    port = PORTS_BY_NAME.get(port_name)
    if port is None:
        known = [n for n in PORTS_BY_NAME if n.startswith(("proxy", "socks"))]
        raise ConfigError(f"[pac] proxy_port: no port {port_name!r}; known: {', '.join(known)}")
    host_port = published.get(port_name)
    if host_port is None:
        raise ConfigError(f"port {port_name} is not published; the PAC's host view needs it")
    keyword = keyword or ("SOCKS5" if "socks" in port_name else "PROXY")

    auth_port = PORTS_BY_NAME[PAC_AUTH_PORT]

    def policy(host: str, proxy_port: int, auth_port: int | None, view: str) -> PacPolicy:
        route = pac_entry(keyword, host, proxy_port)
        # the company port unpublished: its name goes nowhere, not through an open port
        named = [(f"{PAC_FAILOVER_NAME}.{config.domain}",
                  f"{pac_entry(keyword, host, DEAD_PORT)}; {route}"),
                 (f"{PAC_AUTH_NAME}.{config.domain}",
                  pac_entry("PROXY", host, auth_port or DEAD_PORT))]
        return PacPolicy(config.domain, route, tuple(direct), tuple(fallback), otherwise,
                         comment=f"lab project {config.project}, {view} view",
                         network=str(config.subnet), dc=config.dc_fqdn, named=tuple(named))

    return PacViews(
        host=pac_text(policy(config.public_host, host_port, published.get(PAC_AUTH_PORT),
                             "host")),
        lab=pac_text(policy(config.proxy_fqdn, port.container_port, auth_port.container_port,
                            "lab network")))


PAC_DIR = "pac"                  # in the state dir; mounted into the web service
HOST_VIEW_FILE = "host.pac"
LAB_VIEW_FILE = "lab.pac"


def write_pac_files(config: LabConfig) -> Path:
    """The PAC of `[pac]` in lab.toml, both views, in the state dir (`lab up` copies
    them into the web service, `lab.stack.state_files`; a change recreates it). Published
    ports are lab.toml's. Returns the directory."""
    views = pac_views(config, config.ports, port_name=config.pac_proxy_port,
                      direct=config.pac_direct)
    directory = config.state_dir / PAC_DIR
    directory.mkdir(parents=True, exist_ok=True)
    write_if_changed(directory / HOST_VIEW_FILE, views.host.encode())
    write_if_changed(directory / LAB_VIEW_FILE, views.lab.encode())
    return directory
