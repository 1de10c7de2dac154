"""Validation of `lab.toml` as loaded: every key known, typed and in range.

Each mistake becomes one `ConfigError` line that names the key and the fix
(with the closest known key for a typo), before anything is built. Standard
library only: the images import it through `lab.config.model`.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from lab.config.topology import PORTS_BY_NAME, PROXY_PORTS, SOCKS_PORT
from lab.errors import ConfigError

#: section -> key -> type. Every key is required; nothing else is allowed.
SECTIONS: dict[str, dict[str, type]] = {
    "lab": {"project": str},
    "network": {"subnet": str, "host_ports": str},
    "domain": {"domain": str, "realm": str, "workgroup": str, "dc_hostname": str,
               "dns_hostname": str, "admin_password": str},
    "proxy": {"hostname": str, "ntlm_netbios_name": str, "group": str, "bump_exempt": list},
    "pac": {"proxy_port": str, "direct": list},
    "ports": {name: int for name in PORTS_BY_NAME},
}
#: [[users]] and [[groups]] entries: key -> (type, required).
USER_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, True), "password": (str, True), "in": (list, True),
    "groups": (list, False), "service": (bool, False), "state": (str, False),
    "lockout": (bool, False)}
GROUP_KEYS: dict[str, tuple[type, bool]] = {"name": (str, True), "description": (str, False)}
TABLE_ARRAYS = {"users": USER_KEYS, "groups": GROUP_KEYS}

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_SAMBA_MIN_LENGTH = 7


def _unknown(what: str, key: str, known) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return ConfigError(f"lab.toml: unknown {what} {key!r}{hint}")


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", bool: "true or false",
            list: "a list"}[kind]


def _check_type(where: str, value: Any, kind: type) -> None:
    # bool is an int in Python; TOML keeps them apart, and so do we
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"lab.toml: {where} = {value!r} must be {_type_name(kind)}")


def check_document(data: dict[str, Any]) -> None:
    """Raise ConfigError for the first unknown, missing or mistyped key."""
    for section in data:
        if section not in SECTIONS and section not in TABLE_ARRAYS:
            raise _unknown("section", section, [*SECTIONS, *TABLE_ARRAYS])
    for section, keys in SECTIONS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            raise ConfigError(f"lab.toml: section [{section}] is missing: add it with "
                              f"{', '.join(keys)} (see the lab's own lab.toml)")
        for key in table:
            if key not in keys:
                raise _unknown(f"key in [{section}]:", key, keys)
        for key, kind in keys.items():
            if key not in table:
                raise ConfigError(f"lab.toml: [{section}] {key} is missing: add it")
            _check_type(f"[{section}] {key}", table[key], kind)
    for section, keys in TABLE_ARRAYS.items():
        entries = data.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"lab.toml: {section} must be written as [[{section}]] tables")
        for number, entry in enumerate(entries, 1):
            where = f"[[{section}]] #{number} ({entry.get('name', 'no name')!r})"
            for key in entry:
                if key not in keys:
                    raise _unknown(f"key in {where}:", key, keys)
            for key, (kind, required) in keys.items():
                if key in entry:
                    _check_type(f"{where} {key}", entry[key], kind)
                elif required:
                    raise ConfigError(f"lab.toml: {where} needs `{key}`")


def check_port(where: str, value: int) -> int:
    if not 0 < value < 65536:
        raise ConfigError(f"{where} = {value}: a port is a number from 1 to 65535")
    return value


def shown(text: str) -> str:
    """A string as an error message quotes it: TOML's quoting on one line (a newline
    is `\\n`), cut at 60 characters."""
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= 62 else quoted[:58] + '..."'


_PORT_RANGE = re.compile(r"\s*(\d{1,5})\s*-\s*(\d{1,5})\s*", re.ASCII)


def check_port_range(where: str, text: str) -> tuple[int, int]:
    """`"30000-30999"` -> (30000, 30999): ports above 1024, the first not above the last."""
    match = _PORT_RANGE.fullmatch(text)
    if not match:
        raise ConfigError(f'{where} = {shown(text)}: give a range of ports, e.g. "30000-30999"')
    low, high = int(match[1]), int(match[2])
    if not 1024 < low <= high < 65536:
        raise ConfigError(f"{where} = {shown(text)}: ports from 1025 to 65535, the first not "
                          "above the last")
    return low, high


def check_domain(domain: dict[str, str]) -> None:
    """Names Samba and bind will accept, caught before a 20-second build fails."""
    name = domain["domain"]
    if not re.fullmatch(rf"{_LABEL}(\.{_LABEL})+", name):
        raise ConfigError(f"lab.toml: [domain] domain = {name!r}: use a lower-case DNS name "
                          "with at least two labels, e.g. ad.example.com")
    if domain["realm"] != name.upper():
        raise ConfigError(f"lab.toml: [domain] realm = {domain['realm']!r}: an AD realm is "
                          f"the domain in upper case: {name.upper()!r}")
    if not re.fullmatch(r"[A-Z][A-Z0-9-]{0,14}", domain["workgroup"]):
        raise ConfigError(f"lab.toml: [domain] workgroup = {domain['workgroup']!r}: 1-15 "
                          "upper-case letters, digits or '-' (a NetBIOS name)")
    for key in ("dc_hostname", "dns_hostname"):
        if not re.fullmatch(_LABEL, domain[key]):
            raise ConfigError(f"lab.toml: [domain] {key} = {domain[key]!r}: one lower-case "
                              "DNS label (letters, digits, '-')")
    problem = samba_password_problem("Administrator", domain["admin_password"])
    if problem:
        raise ConfigError(f"lab.toml: [domain] admin_password {problem} (Samba's default "
                          "password policy); choose another")


def check_proxy(proxy: dict[str, str], groups: set[str]) -> None:
    if not re.fullmatch(_LABEL, proxy["hostname"]):
        raise ConfigError(f"lab.toml: [proxy] hostname = {proxy['hostname']!r}: one "
                          "lower-case DNS label")
    netbios = proxy["ntlm_netbios_name"]
    if not re.fullmatch(r"[A-Z][A-Z0-9-]{0,14}", netbios) or \
            netbios == proxy["hostname"].upper():
        raise ConfigError(f"lab.toml: [proxy] ntlm_netbios_name = {netbios!r}: 1-15 upper-case "
                          "letters or digits, and not the proxy's hostname (the DC would "
                          "refuse the join)")
    if proxy["group"] not in groups:
        raise ConfigError(f"lab.toml: [proxy] group = {proxy['group']!r} is not declared "
                          "under [[groups]]")


_PATTERN = re.compile(r"^[A-Za-z0-9*?._-]+$")
#: The [ports] keys a PAC can route through.
PAC_PORTS: tuple[str, ...] = (*(f"proxy_{name}" for name in PROXY_PORTS), SOCKS_PORT)


def _names(where: str, values: list, what: str) -> tuple[str, ...]:
    for value in values:
        if not isinstance(value, str) or not _PATTERN.match(value):
            raise ConfigError(f"lab.toml: {where} has {value!r}: each entry is {what}")
    return tuple(values)


def check_bump_exempt(values: list) -> tuple[str, ...]:
    return _names("[proxy] bump_exempt", values, "a host name (e.g. \"bank\" or "
                  "\"login.example.com\"); a name without a dot is in the lab domain")


def check_pac(pac: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """([ports] key the PAC routes lab names through, names it sends DIRECT)."""
    if pac["proxy_port"] not in PAC_PORTS:
        raise _unknown("[pac] proxy_port", pac["proxy_port"], PAC_PORTS)
    return pac["proxy_port"], _names("[pac] direct", pac["direct"], "a host name, "
                                     "\".suffix\" or a shell pattern such as \"*.internal\"")


def samba_password_problem(user: str, password: str) -> str | None:
    """Why Samba's default password policy would refuse `password`, or None."""
    if len(password) < _SAMBA_MIN_LENGTH:
        return f"is shorter than {_SAMBA_MIN_LENGTH} characters"
    classes = [r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]"]
    if sum(bool(re.search(c, password)) for c in classes) < 3:
        return "needs three of: upper case, lower case, digits, symbols"
    if len(user) >= 3 and user.lower() in password.lower():
        return "contains the account name"
    return None
