"""The DC's directory as its administrator, over the lab's published LDAP port: what
the lab itself does to accounts. It locks the `account-locked` scenario's user before
that scenario runs, and it counts and clears the wrong passwords of the
`lockout-budget` scenario's user.

It uses OpenLDAP's own clients (`ldapsearch`, `ldapmodify`, `ldapwhoami`, from
ldap-utils, which `lab host` installs). The administrator's password goes to them in
a private file (`-y`), never on a command line. Lab-side only: nothing here reaches a
scenario's environment or a report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lab.commands import run_command
from lab.errors import LabError

TIMEOUT = 15
MISSING = "the LDAP clients are not installed: apt-get install ldap-utils (or `make host`)"
#: the wrong password the lab sends (wrong-password and lockout scenarios, locking a user):
#: never anyone's
NOBODYS_PASSWORD = "Not-Their-Password-1"


class DirectoryError(LabError):
    """The DC's directory did not do what the lab asked of it."""


@dataclass(frozen=True)
class Directory:
    host: str
    port: int
    base_dn: str
    domain: str              # the administrator binds as Administrator@<domain>
    password: str = field(repr=False)

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @contextmanager
    def _password_file(self) -> Iterator[str]:
        with tempfile.TemporaryDirectory(prefix="lab-ldap-") as private:
            path = Path(private) / "password"
            path.touch(mode=0o600)
            path.write_text(self.password)      # -y takes the whole file: no newline
            yield str(path)

    def _as_admin(self, tool: str, *args: str, input: str | None = None) -> str:
        with self._password_file() as secret:
            return run_command(
                [tool, "-x", "-H", self.url, "-D", f"Administrator@{self.domain}", "-y", secret,
                 *args], input=input, error=DirectoryError, missing=MISSING,
                what=f"{tool} as the domain's administrator at {self.url}", timeout=TIMEOUT,
                hide=(self.password,)).stdout

    def account(self, user: str) -> dict[str, str]:
        """The user's dn, badPwdCount and lockoutTime (absent ones as "0")."""
        out = self._as_admin("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", self.base_dn,
                             f"(sAMAccountName={user})", "badPwdCount", "lockoutTime")
        found = {"badPwdCount": "0", "lockoutTime": "0"}
        for line in out.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key in ("dn", "badPwdCount", "lockoutTime"):
                found[key] = value
        if "dn" not in found:
            raise DirectoryError(f"the DC has no user {user!r}: `lab up` applies lab.toml's")
        return found

    def bad_password_count(self, user: str) -> int:
        """Wrong passwords the DC has counted for `user` since it last logged on or was
        unlocked: what a lockout policy compares with its threshold."""
        return int(self.account(user)["badPwdCount"])

    def locked(self, user: str) -> bool:
        return self.account(user)["lockoutTime"] != "0"

    def unlock(self, user: str) -> None:
        """Unlock `user` and clear its count of wrong passwords (lockoutTime = 0)."""
        dn = self.account(user)["dn"]
        self._as_admin("ldapmodify", input=f"dn: {dn}\nchangetype: modify\n"
                       "replace: lockoutTime\nlockoutTime: 0\n-\n")

    def lock(self, user: str, threshold: int) -> None:
        """Lock `user` as a client would: wrong passwords until the DC locks it."""
        for _ in range(threshold + 1):
            if self.locked(user):
                return
            run_command(["ldapwhoami", "-x", "-H", self.url, "-D", f"{user}@{self.domain}",
                         "-w", NOBODYS_PASSWORD], check=False, error=DirectoryError,
                        missing=MISSING, what=f"a wrong password for {user}", timeout=TIMEOUT)
        if not self.locked(user):
            raise DirectoryError(f"{threshold} wrong passwords did not lock {user}: is it "
                                 "under the lab's lockout policy (lockout = true)? `lab up`")


def directory_of(endpoints, admin_password: str) -> Directory:
    """The directory of the lab `endpoints` describe (`lab.endpoints.Endpoints`), as
    its administrator (`LabConfig.admin_password`)."""
    dc = endpoints.dc
    return Directory(dc.ldap.host, dc.ldap.port, dc.base_dn, dc.domain, admin_password)
