"""Files the proxy's container derives from the configuration at each start.

`lab up` hands the container the effective configuration (/etc/lab/lab.toml, passwords
included; never in the image), and its entrypoint runs
`python3 -m lab.config.render /etc/lab/lab.toml` to write `PROXY_FILES`, readable by
root and squid's group only. Standard library only: it runs on Debian's Python.
"""

from __future__ import annotations

import grp
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from lab.config.discovery import load_file
from lab.config.model import LabConfig

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # squid's basic_ncsa_auth checks with crypt(3); Python 3.11 has it


def htpasswd(config: LabConfig) -> str:
    """The proxy's Basic password file: every user with "htpasswd" in `in`."""
    lines = []
    for user in config.users:
        if user.in_htpasswd:
            hashed = crypt.crypt(user.password, crypt.mksalt(crypt.METHOD_SHA512))
            lines.append(f"{user.name}:{hashed}\n")
    return "".join(lines)


def ldap_bind_password(config: LabConfig) -> str:
    """The password squid's LDAP helper binds with (no newline: -W reads it raw)."""
    return config.ldap_bind_user.password


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def health_user(config: LabConfig) -> str:
    """Shell variables naming the users the proxy's health check authenticates as:
    a domain user (Negotiate, NTLM) and an htpasswd user (SOCKS5)."""
    domain, socks = config.roles.domain, config.roles.basic
    return (f"HEALTH_USER={_shell_quote(domain.name)}\n"
            f"HEALTH_PASSWORD={_shell_quote(domain.password)}\n"
            f"SOCKS_USER={_shell_quote(socks.name)}\n"
            f"SOCKS_PASSWORD={_shell_quote(socks.password)}\n")


def socks_users(config: LabConfig) -> str:
    """`name:password` lines for chpasswd: the htpasswd users, who are the SOCKS5
    server's users (dante checks the system's password database)."""
    return "".join(f"{user.name}:{user.password}\n" for user in config.users
                   if user.in_htpasswd)


#: What the entrypoint writes, and from what: for root and squid's group, but the
#: passwords nothing in squid reads (`ROOT_ONLY`), for root alone.
PROXY_FILES = {"/etc/squid/htpasswd": htpasswd,
               "/etc/squid/ldap-bind-password": ldap_bind_password,
               "/etc/lab/health-user": health_user,
               "/etc/lab/socks-users": socks_users}
ROOT_ONLY = {"/etc/lab/socks-users"}


def write_files(config: LabConfig, files: dict[str, Callable[[LabConfig], str]],
                group: str = "proxy", root_only: set[str] = ROOT_ONLY) -> None:
    gid = grp.getgrnam(group).gr_gid
    for path, renderer in files.items():
        mode = 0o600 if path in root_only else 0o640
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "w") as out:
            os.fchown(out.fileno(), 0, gid)
            os.fchmod(out.fileno(), mode)
            out.write(renderer(config))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_file():
        print("usage: python3 -m lab.config.render CONFIG (the lab.toml the container "
              "was given)", file=sys.stderr)
        return 2
    write_files(load_file(Path(argv[0]), environ={}), PROXY_FILES)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
