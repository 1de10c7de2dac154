"""The lab's one configuration: `lab.toml`, plus overrides from the environment.

Everything that needs a port, an address, a user or a password gets it from
here: the compose file (through `compose_env`), the images (they copy this
module and `lab.toml` in at build time) and the Python API. This module uses
the standard library only, because it also runs inside the images on Debian's
Python 3.11.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

#: Where a user can exist.
DOMAIN = "domain"
HTPASSWD = "htpasswd"
_PLACES = {DOMAIN, HTPASSWD}

#: Host offsets of each service inside the lab subnet.
SERVICE_OFFSETS = {"dns": 10, "dc": 11, "proxy": 12, "web": 13}

#: Ports squid listens on inside its container, by port name (squid.conf and
#: the Basic dispatcher in images/proxy use the same numbers).
PROXY_CONTAINER_PORTS = {"noauth": 3128, "basic": 3129, "ldap": 3130, "negotiate": 3131,
                         "ntlm": 3132, "group": 3133}

_SAMBA_MIN_LENGTH = 7


class ConfigError(ValueError):
    """The configuration is unusable; the message says what to change."""


@dataclass(frozen=True)
class User:
    name: str
    password: str = field(repr=False)
    places: frozenset[str]
    groups: tuple[str, ...] = ()
    service: bool = False

    @property
    def in_domain(self) -> bool:
        return DOMAIN in self.places

    @property
    def in_htpasswd(self) -> bool:
        return HTPASSWD in self.places


@dataclass(frozen=True)
class Group:
    name: str
    description: str = ""


@dataclass(frozen=True)
class LabConfig:
    root: Path
    project: str
    subnet: ipaddress.IPv4Network
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
    state_home: Path = Path.home() / ".local" / "state"

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

    def address(self, service: str) -> str:
        """The fixed address of `service` on the lab network."""
        return str(self.subnet.network_address + SERVICE_OFFSETS[service])

    def user(self, name: str) -> User:
        for user in self.users:
            if user.name == name:
                return user
        raise ConfigError(f"no user {name!r} in {self.root / 'lab.toml'}")

    def pick_user(self, place: str, *, in_group: str | None = None,
                  not_in_group: str | None = None) -> User:
        """The first non-service user that exists in `place` (and in / outside a group)."""
        for user in self.users:
            if user.service or place not in user.places:
                continue
            if in_group is not None and in_group not in user.groups:
                continue
            if not_in_group is not None and not_in_group in user.groups:
                continue
            return user
        raise ConfigError(
            f"lab.toml has no user in {place!r}"
            + (f" and group {in_group!r}" if in_group else "")
            + (f" outside group {not_in_group!r}" if not_in_group else "")
            + "; add one under [[users]]")

    @property
    def ldap_bind_user(self) -> User:
        for user in self.users:
            if user.service and user.in_domain:
                return user
        raise ConfigError("lab.toml needs a domain user with `service = true` "
                          "for squid's LDAP bind")

    def compose_env(self) -> dict[str, str]:
        """Variables docker-compose.yml interpolates; the only way it learns config."""
        env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "LAB_SUBNET": str(self.subnet),
            "LAB_DOMAIN": self.domain,
            "LAB_REALM": self.realm,
            "LAB_WORKGROUP": self.workgroup,
            "LAB_DC_HOSTNAME": self.dc_hostname,
            "LAB_DNS_HOSTNAME": self.dns_hostname,
            "LAB_DC_FQDN": self.dc_fqdn,
            "LAB_BASE_DN": self.base_dn,
            "LAB_LDAP_BIND_DN": f"cn={self.ldap_bind_user.name},cn=Users,{self.base_dn}",
            "LAB_ADMIN_PASSWORD": self.admin_password,
            "LAB_PROXY_HOSTNAME": self.proxy_hostname,
            "LAB_PROXY_FQDN": self.proxy_fqdn,
            "LAB_PROXY_NETBIOS_NAME": self.proxy_netbios_name,
            "LAB_PROXY_GROUP": self.proxy_group,
        }
        env["LAB_GATEWAY_IP"] = self.gateway
        env["LAB_STATE_DIR"] = str(self.state_dir)
        for service in SERVICE_OFFSETS:
            env[f"LAB_{service.upper()}_IP"] = self.address(service)
        for name, port in self.ports.items():
            env[f"LAB_PORT_{name.upper()}"] = str(port)
        return env


def repo_root() -> Path:
    """The directory holding `lab.toml` and `docker-compose.yml`."""
    if "LAB_ROOT" in os.environ:
        return Path(os.environ["LAB_ROOT"])
    return Path(__file__).resolve().parent.parent


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


def check_samba_password(user: str, password: str) -> str | None:
    """Why Samba's default password policy would refuse `password`, or None."""
    if len(password) < _SAMBA_MIN_LENGTH:
        return f"shorter than {_SAMBA_MIN_LENGTH} characters"
    classes = [r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]"]
    if sum(bool(re.search(c, password)) for c in classes) < 3:
        return "needs three of: upper case, lower case, digits, symbols"
    if len(user) >= 3 and user.lower() in password.lower():
        return "contains the account name"
    return None


def _parse_users(raw: list[dict], group_names: set[str]) -> tuple[User, ...]:
    users, seen = [], set()
    for entry in raw:
        name = entry.get("name", "")
        if not re.fullmatch(r"[a-z][a-z0-9._-]{0,19}", name):
            raise ConfigError(f"user name {name!r}: use 1-20 lower-case letters, "
                              "digits, '.', '_' or '-', starting with a letter")
        if name in seen:
            raise ConfigError(f"user {name!r} is listed twice in lab.toml")
        seen.add(name)
        places = frozenset(entry.get("in", []))
        if not places or places - _PLACES:
            raise ConfigError(f"user {name!r}: `in` must list one or both of "
                              f"{sorted(_PLACES)}, got {sorted(places)}")
        password = entry.get("password", "")
        if DOMAIN in places:
            problem = check_samba_password(name, password)
            if problem:
                raise ConfigError(f"user {name!r}: password {problem} (Samba's default "
                                  "password policy); choose another in lab.toml")
        elif not password:
            raise ConfigError(f"user {name!r}: empty password")
        groups = tuple(entry.get("groups", []))
        for group in groups:
            if group not in group_names:
                raise ConfigError(f"user {name!r} is in group {group!r}, which is "
                                  "not declared under [[groups]]")
        if groups and DOMAIN not in places:
            raise ConfigError(f"user {name!r}: groups are AD groups; add \"domain\" to `in`")
        users.append(User(name, password, places, groups, bool(entry.get("service"))))
    return tuple(users)


def _override_ports(ports: dict[str, int], env: dict[str, str]) -> dict[str, int]:
    result = dict(ports)
    for key, value in env.items():
        if not key.startswith("LAB_PORT_"):
            continue
        name = key[len("LAB_PORT_"):].lower()
        if name not in result:
            raise ConfigError(f"{key}: no such port; known: "
                              + ", ".join(f"LAB_PORT_{n.upper()}" for n in result))
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"{key}={value!r}: a port is a number from 1 to 65535")
        result[name] = int(value)
    taken: dict[int, str] = {}
    for name, port in result.items():
        if port in taken:
            raise ConfigError(f"ports {taken[port]!r} and {name!r} are both {port}; "
                              f"set LAB_PORT_{name.upper()} to another port")
        taken[port] = name
    return result


def load_config(root: Path | None = None, environ: dict[str, str] | None = None) -> LabConfig:
    """Read `lab.toml` under `root`, then apply `.env` and environment overrides."""
    root = Path(root) if root is not None else repo_root()
    path = root / "lab.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; run from a checkout of the lab "
                          "repository or set LAB_ROOT") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    env = read_dotenv(root / ".env")
    env.update(os.environ if environ is None else environ)

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
    users = _parse_users(data.get("users", []), {g.name for g in groups})
    domain = data["domain"]
    proxy = data["proxy"]
    if proxy["group"] not in {g.name for g in groups}:
        raise ConfigError(f"[proxy] group = {proxy['group']!r} is not declared under [[groups]]")
    if len(proxy["ntlm_netbios_name"]) > 15 or proxy["ntlm_netbios_name"].upper() == \
            proxy["hostname"].upper():
        raise ConfigError("[proxy] ntlm_netbios_name: at most 15 characters, and not the "
                          "proxy's hostname (the DC would refuse the join)")
    return LabConfig(
        root=root, project=project, subnet=subnet,
        domain=domain["domain"], realm=domain["realm"], workgroup=domain["workgroup"],
        dc_hostname=domain["dc_hostname"], dns_hostname=domain["dns_hostname"],
        admin_password=domain["admin_password"],
        proxy_hostname=proxy["hostname"], proxy_netbios_name=proxy["ntlm_netbios_name"],
        proxy_group=proxy["group"],
        ports=_override_ports(data["ports"], env), users=users, groups=groups,
        state_home=Path(env.get("LAB_STATE_HOME") or env.get("XDG_STATE_HOME")
                        or Path.home() / ".local" / "state"),
    )
