"""The lab's topology, stated once: services, their addresses and container ports,
and the files each image is built from.

Compose reads the container ports through `LAB_CPORT_<NAME>` variables (see
`lab.config.model.LabConfig.compose_env`), the images' scripts read the same
variables, endpoints and preflight checks read this table. Standard library
only: the images import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    """One published port: its `[ports]` key in lab.toml, and where it lands."""

    name: str              # lab.toml [ports] key, e.g. "proxy_basic"
    service: str
    container_port: int
    udp: bool = False      # published on UDP as well as TCP

    @property
    def env_name(self) -> str:
        """`LAB_PORT_PROXY_BASIC`: the override variable, and compose's host port."""
        return f"LAB_PORT_{self.name.upper()}"

    @property
    def container_env_name(self) -> str:
        """`LAB_CPORT_PROXY_BASIC`: the port inside the container."""
        return f"LAB_CPORT_{self.name.upper()}"


@dataclass(frozen=True)
class Service:
    name: str
    offset: int                       # host part of its fixed address in the lab subnet
    build_inputs: tuple[str, ...]     # repo paths whose content the image is built from
    #: Services whose state this one takes in at its start (the proxy joins the DC's
    #: domain; the DC registers its records in bind): their build inputs are part of this
    #: one's fingerprint, and a container of theirs created after this one started
    #: leaves this one stale. (`docker compose up` creates all before it starts any.)
    started_from: tuple[str, ...] = ()
    #: compose variables passed to its build as arguments (docker-compose.yml's `args`):
    #: names only, never a secret (`docker history` shows build arguments)
    build_args: tuple[str, ...] = ()
    #: what its output says (a regular expression over one line) when it believes it
    #: is ready: its health check is run from then on (`lab.stack.announcements`)
    ready_line: str = ""

    def started_from_ready(self, ready: set[str]) -> bool:
        """Whether every service this one starts from is among `ready`."""
        return set(self.started_from) <= ready


#: What of the lab package each image copies in: its root, and whole folders (the
#: Dockerfiles' COPY lines name the same, and a unit test holds them to this).
_PACKAGE_ROOT = ("lab/__init__.py", "lab/errors.py")
_CONFIG = (*_PACKAGE_ROOT, "lab/config")
#: the script that unpacks the files `lab up` hands a container (lab.stack.state_files)
_UNPACK = "images/unpack-files.sh"

SERVICES: tuple[Service, ...] = (
    Service("dns", 10, ("images/dns",), ready_line=r"^running$"),
    # the domain is provisioned at build time from its names, with the packaged
    # default's accounts; each start applies what the configuration `lab up` hands the
    # container changes (users, passwords, groups)
    Service("dc", 11, ("images/dc", _UNPACK, *_CONFIG, "lab/share/lab.toml"),
            started_from=("dns",),
            build_args=("LAB_REALM", "LAB_DOMAIN", "LAB_WORKGROUP", "LAB_DC_HOSTNAME",
                        "LAB_DNS_HOSTNAME", "LAB_PROXY_NETBIOS_NAME"),
            ready_line=r"^dc: ready$"),
    Service("proxy", 12, ("images/proxy", _UNPACK, *_CONFIG), started_from=("dc",),
            ready_line=r"^proxy: ready$"),
    # the fault layer: every published proxy and web port goes through it
    Service("faults", 14, ("images/faults", "lab/__init__.py", "lab/faults"),
            ready_line=r'^\{"api": '),
    Service("web", 13, ("images/web", _UNPACK, "lab/__init__.py", "lab/web", "lab/tidy"),
            ready_line=r"\[lab\.mockweb#info\] serving "),
)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)

#: Proxy port names, in the order they are shown (each is `proxy_<name>` in [ports]).
#: `bump` is open like `noauth`, and inspects TLS: it re-signs every HTTPS origin
#: it tunnels with the lab's corporate CA (squid's ssl-bump). `corp` is the usual
#: company proxy: one port offering Negotiate, NTLM and Basic (checked against the DC).
PROXY_PORTS: tuple[str, ...] = ("noauth", "basic", "ldap", "negotiate", "ntlm", "group",
                                "bump", "corp")
#: The SOCKS5 port (dante, in the proxy's container): username/password, remote names.
SOCKS_PORT = "socks"

#: Names the lab's PAC routes on their own (lab.stack.pac_file): `failover` through a
#: dead proxy first, then the live one (pac-failover); `secure` through the company
#: proxy, the `corp` port (pac-auth).
PAC_FAILOVER_NAME = "failover"
PAC_AUTH_NAME = "secure"
#: The web service's names besides `web`, each an A record in the lab zone and a
#: name on its certificate: `bank`, the site TLS inspection exempts by default (as
#: companies exempt banking), `wpad`, where proxy auto-discovery looks, and the PAC's
#: own names.
WEB_ALIASES: tuple[str, ...] = ("bank", "wpad", PAC_FAILOVER_NAME, PAC_AUTH_NAME)
#: The proxy's DNS alias (a CNAME to it), as companies publish theirs: no service
#: principal exists for it, so a client that does not canonicalize gets no ticket.
PROXY_ALIAS = "webproxy"

#: Ports the fault layer stands in front of: published by `faults`, which forwards each
#: to the same container port on the service named here.
FAULTABLE: dict[str, str] = {**{f"proxy_{name}": "proxy" for name in PROXY_PORTS},
                             SOCKS_PORT: "proxy", "web": "web", "web_https": "web"}

PORTS: tuple[Port, ...] = (
    *(Port(f"proxy_{name}", "faults", 3128 + i) for i, name in enumerate(PROXY_PORTS)),
    Port(SOCKS_PORT, "faults", 1080),
    Port("dns", "dns", 53, udp=True),
    Port("ldap", "dc", 389),
    Port("kerberos", "dc", 88, udp=True),
    Port("web", "faults", 80),
    Port("web_https", "faults", 443),
    Port("faults_api", "faults", 8474),        # Toxiproxy's own port, inside
)
PORTS_BY_NAME: dict[str, Port] = {p.name: p for p in PORTS}


def sources(name: str) -> set[str]:
    """Every service `name` starts from, directly or through another."""
    found: set[str] = set()
    for source in service(name).started_from:
        found |= {source, *sources(source)}
    return found


def dependents(names: set[str]) -> set[str]:
    """Every service that starts from one of `names`, directly or through another."""
    return {s.name for s in SERVICES if sources(s.name) & names}


def service(name: str) -> Service:
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
