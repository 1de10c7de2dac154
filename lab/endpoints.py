"""Where everything in a running lab is, as seen from this host: one typed model.

`Endpoints` is built in one place (`build_endpoints`, from the configuration
and the ports docker actually published) and read by attribute everywhere:
the CLI, `lab check`, `lab fetch`, the trial test cases, the pytest plugin,
the benchmarks. `to_json()` is the `lab status --json` document; `from_json()`
reads one back (for clients that only have the document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.config.model import LabConfig
from lab.config.topology import PROXY_PORTS, SOCKS_PORT
from lab.errors import LabNotRunning

LOOPBACK = "127.0.0.1"
WEB_CA_FILE = "web-ca.pem"      # what clients trust for the web service's HTTPS
CORPORATE_CA_FILE = "corporate-ca.pem"     # what clients of the bump port trust: the root
#: the CA under it that the bump port signs with (squid sends it with every leaf)
CORPORATE_ISSUING_CA_FILE = "corporate-issuing-ca.pem"
#: The `corp` port's accounts AD refuses (`ProxyPort.accounts`), by state, and the role
#: (`lab.config.users.Roles`) that plays each
ACCOUNT_ROLES: dict[str, str] = {"disabled": "account_disabled",
                                 "password-expired": "password_expired",
                                 "locked": "account_locked", "lockout-budget": "lockout_budget"}
#: lab.web.resources.PROXY_PAC, named without importing Twisted (a test holds them equal)
PROXY_PAC = "proxy.pac"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}


@dataclass(frozen=True)
class ProxyPort:
    """One proxy port and the credentials that work on it.

    `host` is the name to call the proxy by; `address`, when set, is where to
    connect instead (Kerberos asks for a ticket for `HTTP/<host>`, while the
    socket goes to 127.0.0.1).
    """

    name: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    address: str | None = None
    denied_username: str | None = None           # `group`: a valid user it refuses (403)
    denied_password: str | None = field(default=None, repr=False)
    #: `ldap`: a valid domain user nothing in the lab sends squid while the DC answers,
    #: so never in squid's credential cache (the `dc-down` scenario's)
    uncached_username: str | None = None
    uncached_password: str | None = field(default=None, repr=False)
    #: a real user to send with a wrong password (the wrong-password scenarios'): the lab
    #: never sends its right one, which a wrong one in flight would spoil in squid's cache
    wrong_username: str | None = None
    #: how clients name it in a proxy URL: "http", or "socks5h" (SOCKS5, names
    #: resolved by the proxy) for the `socks` port
    scheme: str = "http"
    #: `corp`: the accounts AD refuses, by state ("disabled", "password-expired",
    #: "locked", "lockout-budget"): {"username": ..., "password": ...} each
    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    @property
    def connect_address(self) -> str:
        return self.address or self.host

    @property
    def url(self) -> str:
        """`http://host:port` (`socks5h://...` for SOCKS), as proxy variables and
        `curl -x` take it."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"host": self.host, "port": self.port}
        if self.scheme != "http":
            doc["scheme"] = self.scheme
        if self.username is not None:
            doc.update(username=self.username, password=self.password)
        if self.address is not None:
            doc["address"] = self.address
        if self.denied_username is not None:
            doc.update(denied_username=self.denied_username,
                       denied_password=self.denied_password)
        if self.uncached_username is not None:
            doc.update(uncached_username=self.uncached_username,
                       uncached_password=self.uncached_password)
        if self.wrong_username is not None:
            doc["wrong_username"] = self.wrong_username
        if self.accounts:
            doc["accounts"] = {state: dict(user) for state, user in self.accounts.items()}
        return doc


@dataclass(frozen=True)
class Dc:
    ldap: Endpoint
    kerberos: Endpoint
    realm: str
    domain: str
    workgroup: str
    hostname: str
    base_dn: str

    def to_json(self) -> dict[str, Any]:
        return {"ldap": self.ldap.to_json(), "kerberos": self.kerberos.to_json(),
                "realm": self.realm, "domain": self.domain, "workgroup": self.workgroup,
                "hostname": self.hostname, "base_dn": self.base_dn}


@dataclass(frozen=True)
class Web:
    url: str                 # plain HTTP, directly (published port)
    proxy_url: str           # plain HTTP through a proxy, by the lab name
    https_url: str
    https_proxy_url: str
    ca_cert: str             # PEM file clients trust for the HTTPS URLs

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "proxy_url": self.proxy_url, "https_url": self.https_url,
                "https_proxy_url": self.https_proxy_url, "ca_cert": self.ca_cert}


@dataclass(frozen=True)
class Endpoints:
    project: str
    proxy: Mapping[str, ProxyPort]
    dns: Endpoint
    dc: Dc
    web: Web
    host_interface: str     # this host on the lab network: bind test servers here
    #: the ports test servers on `host_interface` must use: the proxies reach no other
    host_ports: tuple[int, int] = (30000, 30999)
    faults_api: Endpoint | None = None    # the fault layer's Toxiproxy-compatible API
    #: PEM of the corporate root CA the `bump` port re-signs origins with
    corporate_ca: str | None = None
    pac_url: str | None = None            # the PAC file, host view (/proxy.pac)
    #: The proxy's own address on the lab network: the client address the origin
    #: sees for a proxied request (lab matrix's evidence). Not in `to_json()`.
    proxy_lab_address: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project,
                "proxy": {name: port.to_json() for name, port in self.proxy.items()},
                "dns": self.dns.to_json(), "dc": self.dc.to_json(), "web": self.web.to_json(),
                "host_interface": self.host_interface, "host_ports": list(self.host_ports),
                **({"faults": {"api": self.faults_api.to_json()}} if self.faults_api else {}),
                **({"corporate_ca": self.corporate_ca} if self.corporate_ca else {}),
                **({"pac": {"url": self.pac_url}} if self.pac_url else {})}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Endpoints:
        return cls(
            project=doc["project"],
            proxy={name: ProxyPort(name, **fields) for name, fields in doc["proxy"].items()},
            dns=Endpoint(**doc["dns"]),
            dc=Dc(**{**doc["dc"], "ldap": Endpoint(**doc["dc"]["ldap"]),
                     "kerberos": Endpoint(**doc["dc"]["kerberos"])}),
            web=Web(**doc["web"]),
            host_interface=doc["host_interface"],
            host_ports=tuple(doc.get("host_ports", cls.host_ports)),
            faults_api=Endpoint(**doc["faults"]["api"]) if "faults" in doc else None,
            corporate_ca=doc.get("corporate_ca"),
            pac_url=doc["pac"]["url"] if "pac" in doc else None)


def build_endpoints(config: LabConfig, published: Mapping[str, int | None]) -> Endpoints:
    """The endpoints of a lab, from its configuration and its published ports
    (by `[ports]` name; None where docker published nothing)."""

    def port(name: str) -> int:
        number = published.get(name)
        if number is None:
            raise LabNotRunning(f"port {name} is not published; recreate the lab "
                                "(`lab down && lab up`)")
        return number

    roles = config.roles
    host = config.public_host          # 127.0.0.1, or a remote engine's host
    credentials = {"basic": roles.basic, "ldap": roles.domain, "negotiate": roles.domain,
                   "ntlm": roles.domain, "group": roles.group_member, "corp": roles.domain}
    # what a port has beyond its address and user: Kerberos asks for HTTP/<host>, so
    # `negotiate` is named by the proxy's principal and connects to `host`; `group`
    # names a valid user it refuses; `ldap` a user squid cannot have cached (dc-down)
    extra: dict[str, dict[str, Any]] = {
        "negotiate": {"host": config.proxy_fqdn, "address": host},
        "group": {"denied_username": roles.group_denied.name,
                  "denied_password": roles.group_denied.password},
        "ldap": {"uncached_username": roles.uncached.name,
                 "uncached_password": roles.uncached.password},
        "corp": {"accounts": {state: {"username": getattr(roles, role).name,
                                      "password": getattr(roles, role).password}
                              for state, role in ACCOUNT_ROLES.items()}},
    }
    proxy = {}
    for name in PROXY_PORTS:
        user = credentials.get(name)
        fields = {"host": host, **extra.get(name, {})}
        if user is not None:
            fields["wrong_username"] = roles.wrong_password.name
        proxy[name] = ProxyPort(
            name, port=port(f"proxy_{name}"), username=user.name if user else None,
            password=user.password if user else None, **fields)
    # SOCKS5 (dante) checks the htpasswd users, as the `basic` port does
    proxy[SOCKS_PORT] = ProxyPort(SOCKS_PORT, host, port(SOCKS_PORT), roles.basic.name,
                                  roles.basic.password, scheme="socks5h",
                                  wrong_username=roles.wrong_password.name)
    # the web certificate names localhost (and the remote engine's host, if any)
    https_host = "localhost" if host == LOOPBACK else host
    return Endpoints(
        project=config.project,
        proxy=proxy,
        dns=Endpoint(host, port("dns")),
        dc=Dc(Endpoint(host, port("ldap")), Endpoint(host, port("kerberos")),
              realm=config.realm, domain=config.domain, workgroup=config.workgroup,
              hostname=config.dc_fqdn, base_dn=config.base_dn),
        web=Web(url=f"http://{host}:{port('web')}/",
                proxy_url=f"http://{config.web_fqdn}/",
                https_url=f"https://{https_host}:{port('web_https')}/",
                https_proxy_url=f"https://{config.web_fqdn}/",
                ca_cert=str(config.state_dir / WEB_CA_FILE)),
        host_interface=config.gateway,
        host_ports=config.host_ports,
        faults_api=Endpoint(host, port("faults_api")),
        corporate_ca=str(config.state_dir / CORPORATE_CA_FILE),
        pac_url=f"http://{host}:{port('web')}/{PROXY_PAC}",
        proxy_lab_address=config.address("proxy"))
