"""The lab's one configuration: `lab.toml`, plus overrides from the environment.

Everything that needs a port, an address, a user or a password gets it from
here: the compose file (through `compose_env`), the images (they copy this
module and the effective `lab.toml` in at build time, `lab.stack.build_context`) and the
Python API. Which file, and how a project's file extends the packaged default,
is `lab.config.discovery`. The result is validated as it is loaded (`lab.config.schema`), so
a mistake is one line naming the fix, before anything is built. Standard
library only: it also runs inside the images on Debian's Python 3.11 (where
`load_file` reads the complete file staged for them).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from lab.config import dockerhost, schema
from lab.config.topology import PORTS, PROXY_ALIAS, SERVICES, WEB_ALIASES, service
from lab.config.users import Group, Roles, User, parse_users, settle_roles
from lab.errors import ConfigError

#: The name of the configuration file, wherever it is.
FILE_NAME = "lab.toml"


@dataclass(frozen=True)
class Origin:
    """Where a configuration came from (what `lab config` reports)."""

    file: Path | None        # the project's own file; None: the packaged default alone
    how: str                 # why that file: "--config", "LAB_CONFIG", "found from DIR", ...
    package: Traversable     # the lab package whose images and modules the lab is built from

    @property
    def default_file(self) -> Traversable:
        return self.package / "share" / FILE_NAME

    @property
    def label(self) -> str:
        """How errors name the configuration: the file the user wrote, if any."""
        return str(self.file) if self.file else f"{self.default_file} (packaged default)"

    def describe(self) -> str:
        if self.file is None:
            return f"the packaged default {self.default_file} (no lab.toml found)"
        return f"{self.file} ({self.how}), extending the packaged default {self.default_file}"


@dataclass(frozen=True)
class LabConfig:
    root: Path
    project: str
    subnet: ipaddress.IPv4Network
    #: the ports this host's own test servers listen on, on the lab network (the
    #: gateway): the only ports of this host the proxies reach
    host_ports: tuple[int, int]
    domain: str
    realm: str
    workgroup: str
    dc_hostname: str
    dns_hostname: str
    admin_password: str = field(repr=False)
    proxy_hostname: str
    proxy_netbios_name: str
    proxy_group: str
    ports: dict[str, int]
    users: tuple[User, ...]
    groups: tuple[Group, ...]
    roles: Roles
    #: names the `bump` port splices (tunnels untouched), as written ("bank": lab domain)
    bump_exempt: tuple[str, ...] = ()
    pac_proxy_port: str = "proxy_noauth"     # [pac] proxy_port: a [ports] key
    pac_direct: tuple[str, ...] = ()         # [pac] direct
    bind: str = "127.0.0.1"                  # LAB_BIND: where ports are published
    #: LAB_ALLOW: the client networks let in when ports are published beyond loopback
    allow: tuple[ipaddress.IPv4Network, ...] = ()
    #: the variables that say which Docker engine (lab.config.dockerhost reads them)
    docker_env: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    state_home: Path = Path.home() / ".local" / "state"
    #: the merged file document (project settled, before environment overrides): what
    #: dc and proxy are handed as their lab.toml, so an override alone never recreates them
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    origin: Origin | None = field(default=None, compare=False, repr=False)

    @property
    def dc_fqdn(self) -> str:
        return f"{self.dc_hostname}.{self.domain}"

    @property
    def base_dn(self) -> str:
        return ",".join(f"dc={part}" for part in self.domain.split("."))

    @property
    def proxy_fqdn(self) -> str:
        return f"{self.proxy_hostname}.{self.domain}"

    @property
    def proxy_spn(self) -> str:
        """The Kerberos service principal clients ask for to authenticate to the proxy."""
        return f"HTTP/{self.proxy_fqdn}"

    @property
    def web_fqdn(self) -> str:
        return f"web.{self.domain}"

    @property
    def web_names(self) -> tuple[str, ...]:
        """Every name of the web service in the lab domain (its certificate's names)."""
        return (self.web_fqdn, *(f"{alias}.{self.domain}" for alias in WEB_ALIASES))

    @property
    def bump_exempt_fqdns(self) -> tuple[str, ...]:
        """`[proxy] bump_exempt`, each name completed with the lab domain if it has no dot."""
        return tuple(name if "." in name else f"{name}.{self.domain}"
                     for name in self.bump_exempt)

    @property
    def docker_host(self) -> str | None:
        """The engine's URL (DOCKER_HOST, else the docker context); None: local socket."""
        return dockerhost.docker_host(self.docker_env)

    @property
    def public_host(self) -> str:
        """Where clients on this machine reach the published ports: 127.0.0.1, or
        the remote engine's host (`lab.config.dockerhost`)."""
        return dockerhost.public_host(self.bind, dockerhost.engine_address(self.docker_host))

    @property
    def published_beyond_loopback(self) -> bool:
        return not ipaddress.IPv4Address(self.bind).is_loopback

    @property
    def admitted(self) -> tuple[ipaddress.IPv4Network, ...]:
        """The client networks every published port lets in: anyone while the ports are
        on loopback (only this machine reaches them); else LAB_ALLOW, and always this
        host: from the lab's gateway (docker's proxy relays what reaches 127.0.0.1),
        from loopback, and, when the ports are published on one of its own addresses,
        from that address (docker forwards its own connections there as they are)."""
        if not self.published_beyond_loopback:
            return (ipaddress.IPv4Network("0.0.0.0/0"),)
        own = () if self.bind == dockerhost.ANY or dockerhost.engine_address(
            self.docker_host) else (ipaddress.IPv4Network(f"{self.bind}/32"),)
        return (*self.allow, *own, self.subnet, ipaddress.IPv4Network("127.0.0.0/8"))

    @property
    def gateway(self) -> str:
        """This host's address on the lab network (what containers reach it by)."""
        return str(self.subnet.network_address + 1)

    @property
    def state_dir(self) -> Path:
        """Files `lab up` makes on the host for this project (the web TLS certificate).

        Keyed by project, not by checkout: two checkouts that drive the same
        project share one lab, so they must share its certificate too.
        """
        return self.state_home / "lab" / self.project

    @property
    def build_dir(self) -> Path:
        """The images' build context, staged by `lab.stack.build_context` (and the compose file)."""
        return self.state_dir / "build"

    @property
    def ldap_bind_user(self) -> User:
        return self.roles.ldap_bind

    def address(self, service_name: str) -> str:
        """The fixed address of a service on the lab network."""
        return str(self.subnet.network_address + service(service_name).offset)

    def user(self, name: str) -> User:
        for user in self.users:
            if user.name == name:
                return user
        where = self.origin.label if self.origin else self.root / "lab.toml"
        raise ConfigError(f"no user {name!r} in {where} "
                          f"(users: {', '.join(u.name for u in self.users)})")

    def compose_env(self) -> dict[str, str]:
        """Variables docker-compose.yml interpolates; the only way it learns config."""
        env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "LAB_SUBNET": str(self.subnet),
            "LAB_HOST_PORTS": "{}-{}".format(*self.host_ports),
            "LAB_GATEWAY_IP": self.gateway,
            "LAB_DOMAIN": self.domain,
            "LAB_REALM": self.realm,
            "LAB_WORKGROUP": self.workgroup,
            "LAB_DC_HOSTNAME": self.dc_hostname,
            "LAB_DNS_HOSTNAME": self.dns_hostname,
            "LAB_DC_FQDN": self.dc_fqdn,
            "LAB_BASE_DN": self.base_dn,
            "LAB_LDAP_BIND_DN": f"cn={self.ldap_bind_user.name},cn=Users,{self.base_dn}",
            "LAB_PROXY_HOSTNAME": self.proxy_hostname,
            "LAB_PROXY_FQDN": self.proxy_fqdn,
            "LAB_PROXY_NETBIOS_NAME": self.proxy_netbios_name,
            "LAB_PROXY_GROUP": self.proxy_group,
            "LAB_BIND": self.bind,
            "LAB_ADMITTED": ",".join(str(network) for network in self.admitted),
            # what host clients call the proxy by: the DC gives it an SPN (Negotiate)
            "LAB_PUBLIC_HOST": self.public_host,
            "LAB_PROXY_SERVICE_ACCOUNT": self.ldap_bind_user.name,
            "LAB_BUMP_EXEMPT": " ".join(self.bump_exempt_fqdns) or "none.invalid",
            "LAB_WEB_ALIASES": " ".join(WEB_ALIASES),
            "LAB_PROXY_ALIAS": PROXY_ALIAS,
        }
        for svc in SERVICES:
            env[f"LAB_{svc.name.upper()}_IP"] = self.address(svc.name)
        for port in PORTS:
            env[port.env_name] = str(self.ports[port.name])
            env[port.container_env_name] = str(port.container_port)
        return env


def read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=value` lines of a `.env` file (the subset compose also reads)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected KEY=value, got {line!r}")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _override_ports(ports: dict[str, int], env: dict[str, str]) -> dict[str, int]:
    result = {name: schema.check_port(f"lab.toml: [ports] {name}", port)
              for name, port in ports.items()}
    by_env = {port.env_name: port.name for port in PORTS}
    for key, value in env.items():
        if not key.startswith("LAB_PORT_"):
            continue
        if key not in by_env:
            raise ConfigError(f"{key}: no such port; known: {', '.join(by_env)}")
        if not value.strip().isdigit():
            raise ConfigError(f"{key}={value!r}: a port is a number from 1 to 65535")
        result[by_env[key]] = schema.check_port(key, int(value))
    taken: dict[int, str] = {}
    for name, port in result.items():
        if port in taken:
            raise ConfigError(f"ports {taken[port]!r} and {name!r} are both {port}; set "
                              f"LAB_PORT_{name.upper()} (or [ports] {name}) to another port")
        taken[port] = name
    return result


#: What decides the Docker engine (see lab.config.dockerhost).
DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "HOME")


def _bind(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError(f"LAB_BIND={value!r}: give the IPv4 address to publish the lab's "
                          "ports on (127.0.0.1, 0.0.0.0, or one of the engine host's)") from None
    return value


def _allow(value: str) -> tuple[ipaddress.IPv4Network, ...]:
    """LAB_ALLOW: IPv4 networks or addresses, separated by commas or spaces."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.IPv4Network(item, strict=False))
        except ValueError:
            raise ConfigError(f"LAB_ALLOW: {schema.shown(item)} is not an IPv4 network; give "
                              "the clients' networks, e.g. LAB_ALLOW=10.0.0.0/24,192.168.1.7"
                              ) from None
    return tuple(networks)


def from_document(data: dict[str, Any], root: Path, environ: dict[str, str],
                  origin: Origin | None) -> LabConfig:
    """Validate a complete document, then apply `.env` in `root` and `environ`."""
    schema.check_document(data)
    env = read_dotenv(root / ".env") if origin is None or origin.file else {}
    env.update(environ)

    project = env.get("LAB_PROJECT", data["lab"]["project"])
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project):
        raise ConfigError(f"LAB_PROJECT={project!r}: use lower-case letters, digits, "
                          "'-' and '_' (a compose project name)")
    subnet_text = env.get("LAB_SUBNET", data["network"]["subnet"])
    try:
        subnet = ipaddress.IPv4Network(subnet_text)
    except ValueError as exc:
        raise ConfigError(f"LAB_SUBNET={subnet_text!r}: {exc}; "
                          "give an IPv4 network such as 10.77.0.0/24") from None
    if subnet.num_addresses < 32:
        raise ConfigError(f"LAB_SUBNET={subnet}: too small, use a /27 or larger")

    groups = tuple(Group(g["name"], g.get("description", "")) for g in data.get("groups", []))
    group_names = {g.name for g in groups}
    users = parse_users(data.get("users", []), group_names)
    domain, proxy = data["domain"], data["proxy"]
    schema.check_domain(domain)
    schema.check_proxy(proxy, group_names)
    pac_port, pac_direct = schema.check_pac(data["pac"])
    return LabConfig(
        root=root, project=project, subnet=subnet,
        host_ports=schema.check_port_range("lab.toml: [network] host_ports",
                                           data["network"]["host_ports"]),
        domain=domain["domain"], realm=domain["realm"], workgroup=domain["workgroup"],
        dc_hostname=domain["dc_hostname"], dns_hostname=domain["dns_hostname"],
        admin_password=domain["admin_password"],
        proxy_hostname=proxy["hostname"], proxy_netbios_name=proxy["ntlm_netbios_name"],
        proxy_group=proxy["group"],
        ports=_override_ports(data["ports"], env), users=users, groups=groups,
        roles=settle_roles(users, proxy["group"]),
        bump_exempt=schema.check_bump_exempt(proxy["bump_exempt"]),
        pac_proxy_port=pac_port, pac_direct=pac_direct,
        bind=_bind(env.get("LAB_BIND", "127.0.0.1")),
        allow=_allow(env.get("LAB_ALLOW", "")),
        docker_env={k: v for k, v in env.items() if k in DOCKER_VARIABLES},
        state_home=Path(env.get("LAB_STATE_HOME") or env.get("XDG_STATE_HOME")
                        or Path.home() / ".local" / "state"),
        document=data, origin=origin,
    )

