"""What the DC saw: Samba's authentication audit (`auth_audit`, one line per
authentication on the DC's output: see the DC image's entrypoint), for `lab watch`.

A line names the service (LDAP simple bind, the Kerberos KDC, NETLOGON's SamLogon for
NTLM through the proxy's winbind), the account, how it proved itself (Plaintext,
NTLMv2, an encryption type), the status (NT_STATUS_OK, NT_STATUS_WRONG_PASSWORD, ...)
and where it came from. Never a password.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

_LINE = re.compile(
    r"Auth: \[(?P<service>[^\]]*)\] user \[(?P<domain>[^\]]*)\]\\\[(?P<user>[^\]]*)\] "
    r"at \[(?P<when>[^\]]*)\] with \[(?P<how>[^\]]*)\] status \[(?P<status>[^\]]*)\] "
    r"workstation \[(?P<workstation>[^\]]*)\] remote host \[(?P<remote>[^\]]*)\]"
    r"(?: (?:became|mapped to) \[(?P<account_domain>[^\]]*)\]\\\[(?P<account>[^\]]*)\])?")


def _time(text: str) -> float | None:
    try:
        return datetime.datetime.strptime(text, "%a, %d %b %Y %H:%M:%S.%f %Z").replace(
            tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None


def _address(remote: str) -> str | None:
    """`ipv4:172.29.53.12:40892` -> `172.29.53.12:40892`; None for `NULL`."""
    family, _, address = remote.partition(":")
    return address if family in ("ipv4", "ipv6") and address else None


def parse_line(line: str) -> dict[str, Any] | None:
    """One authentication as a record; None for any other line."""
    match = _LINE.search(line)
    if match is None:
        return None
    if match["account"]:
        user = f"{match['account_domain']}\\{match['account']}"
    elif match["domain"] in ("", "(null)"):
        user = match["user"]
    else:
        user = f"{match['domain']}\\{match['user']}"
    return {"time": _time(match["when"]), "service": match["service"], "user": user,
            "how": match["how"], "status": match["status"],
            "ok": match["status"] == "NT_STATUS_OK", "client": _address(match["remote"])}
