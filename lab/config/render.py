"""Files the images derive from lab.toml at build time.

Run inside an image as `python3 -m lab.config.render WHAT` (stdout is the file), and
imported by the unit tests. Standard library only: it runs on Debian's Python.
"""

from __future__ import annotations

import sys
import warnings
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


RENDERERS = {"htpasswd": htpasswd, "ldap-bind-password": ldap_bind_password,
             "health-user": health_user, "socks-users": socks_users}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in RENDERERS:
        print(f"usage: python3 -m lab.config.render {{{'|'.join(RENDERERS)}}}", file=sys.stderr)
        return 2
    # in the image: /opt/lab/lab.toml, the effective configuration `lab up` staged
    config = load_file(Path(__file__).resolve().parents[2] / "lab.toml", environ={})
    sys.stdout.write(RENDERERS[argv[0]](config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
