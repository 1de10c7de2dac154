"""Bring the provisioned directory to the configuration: the Administrator password,
the users (their states: disabled, password expired), the groups and their members,
the lockout policy and the proxy's service principals; then export those principals'
keys for squid. At every start, beside samba's, from the configuration `lab up` hands
the container (/etc/lab/lab.toml).

The image already holds the accounts of the packaged default, disabled (`--image`, run
when it is built: their passwords are public, and a lab published beyond loopback gets
generated ones, `lab.config.generated`). A start changes only what differs: a password
is set only where the account's NT hash is not the configuration's, since setting one
derives its Kerberos keys (PBKDF2, 4096 rounds of Heimdal's own SHA-1: ~45 ms an
account, most of what a start spent here), then enables the accounts. Accounts of the
default the configuration no longer has in the domain are removed.

One process through Samba's own Python API (`samba-tool` costs ~0.3 s a call), one
transaction. Safe to run again on a restarted container. Samba takes the changes as
they commit (its directory is shared through ldb's locks, as for `samba-tool` on a
running DC).
"""

import argparse
import os
import sys
from pathlib import Path

import ldb
from samba import dckeytab  # noqa: F401  (gives Net its export_keytab)
from samba.auth import system_session
from samba.crypto import md4_hash_blob
from samba.net import Net
from samba.param import LoadParm
from samba.samdb import SamDB

sys.path.insert(0, "/opt/lab")
from lab.config.discovery import load_file  # noqa: E402
from lab.config.model import LabConfig  # noqa: E402
from lab.config.users import (  # noqa: E402
    DISABLED,
    LOCKOUT_GROUP,
    LOCKOUT_THRESHOLD,
    PASSWORD_EXPIRED,
    User,
)

#: The packaged default, whose accounts the image holds (the Dockerfile copies it here)
IMAGE_DEFAULT = Path("/etc/lab/default.toml")
#: AES128 + AES256 only: tickets for the proxy then come out AES, not RC4, as from a
#: current AD
AES_ONLY = "24"
#: userAccountControl bits
ACCOUNTDISABLE, DONT_EXPIRE_PASSWORD = 0x2, 0x10000
#: pwdLastSet: 0 means "must change at the next logon"; -1 sets it to now
MUST_CHANGE, NOW = "0", "-1"
#: the lockout policy's PSO: 30 minutes (in AD's negative 100 ns units) to reset the count
#: of wrong passwords; a locked account stays locked until unlocked (duration 0)
LOCKOUT_PSO = "lab-lockout-policy"
THIRTY_MINUTES = str(-30 * 60 * 10**7)


def account(db: SamDB, name: str, attrs: tuple[str, ...] = ("member",)) -> ldb.Message | None:
    found = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                      expression=f"(sAMAccountName={ldb.binary_encode(name)})",
                      attrs=list(attrs))
    return found[0] if found else None


def nt_hash(password: str) -> bytes:
    return md4_hash_blob(password.encode("utf-16-le"))


def modify(db: SamDB, dn: ldb.Dn, changes: dict[str, str]) -> None:
    """Replace the attributes' values (one modify), if there is anything to replace."""
    if changes:
        change = ldb.Message(dn)
        for attribute, value in changes.items():
            change[attribute] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, attribute)
        db.modify(change)


def apply_password(db: SamDB, name: str, password: str, expired: bool) -> None:
    """The account's password, set only if its NT hash differs (see the module's doc);
    otherwise only whether it must be changed at the next logon."""
    found = account(db, name, ("unicodePwd", "pwdLastSet"))
    if found is None:
        raise LookupError(f"no account {name}")
    stored = found.get("unicodePwd")
    if stored is None or bytes(stored[0]) != nt_hash(password):
        db.setpassword(f"(sAMAccountName={ldb.binary_encode(name)})", password,
                       force_change_at_next_login=expired, username=name)
        return
    must_change = str(found["pwdLastSet"][0]) == MUST_CHANGE
    if must_change != expired:
        modify(db, found.dn, {"pwdLastSet": MUST_CHANGE if expired else NOW})


def apply_controls(db: SamDB, name: str, disabled: bool, expired: bool = False) -> None:
    """Whether the account is disabled; it never expires, nor does its password, unless
    it is the expired one."""
    found = account(db, name, ("userAccountControl", "accountExpires"))
    control = int(found["userAccountControl"][0])
    wanted = control & ~DONT_EXPIRE_PASSWORD if expired else control | DONT_EXPIRE_PASSWORD
    wanted = wanted | ACCOUNTDISABLE if disabled else wanted & ~ACCOUNTDISABLE
    changes = {}
    if wanted != control:
        changes["userAccountControl"] = str(wanted)
    if str(found["accountExpires"][0]) != "0":
        changes["accountExpires"] = "0"
    modify(db, found.dn, changes)


def apply_user(db: SamDB, user: User, image_build: bool) -> None:
    expired = user.state == PASSWORD_EXPIRED
    if account(db, user.name) is None:
        db.newuser(user.name, user.password, force_password_change_at_next_login_req=expired)
    else:
        apply_password(db, user.name, user.password, expired)
    apply_controls(db, user.name, disabled=image_build or user.state == DISABLED,
                   expired=expired)


def apply_lockout_policy(db: SamDB, group_dn: ldb.Dn) -> None:
    """The lockout policy as a PSO on LOCKOUT_GROUP only (the domain's never locks)."""
    dn = ldb.Dn(db, f"CN={LOCKOUT_PSO},CN=Password Settings Container,CN=System,"
                    f"{db.domain_dn()}")
    if db.search(base=dn.parent(), scope=ldb.SCOPE_ONELEVEL,
                 expression=f"(cn={LOCKOUT_PSO})", attrs=["cn"]):
        return
    db.add({"dn": dn, "objectClass": "msDS-PasswordSettings",
            "msDS-PasswordSettingsPrecedence": "10",
            "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
            "msDS-PasswordHistoryLength": "0",
            "msDS-PasswordComplexityEnabled": "TRUE",
            "msDS-MinimumPasswordLength": "7",
            "msDS-MinimumPasswordAge": "0",
            "msDS-MaximumPasswordAge": "-9223372036854775808",     # never
            "msDS-LockoutThreshold": str(LOCKOUT_THRESHOLD),
            "msDS-LockoutObservationWindow": THIRTY_MINUTES,
            "msDS-LockoutDuration": "0",                             # until unlocked
            "msDS-PSOAppliesTo": str(group_dn)})


def apply_members(db: SamDB, group: str, names: list[str]) -> None:
    """The group's members: exactly `names`."""
    found = account(db, group)
    members = {str(m).lower(): str(m) for m in found.get("member", [])}
    wanted = {str(account(db, n, ("cn",)).dn).lower(): n for n in names}
    if missing := [n for dn, n in wanted.items() if dn not in members]:
        db.add_remove_group_members(group, missing)
    if extra := [dn for lower, dn in members.items() if lower not in wanted]:
        change = ldb.Message(found.dn)
        change["member"] = ldb.MessageElement(extra, ldb.FLAG_MOD_DELETE, "member")
        db.modify(change)


def apply_accounts(db: SamDB, config: LabConfig, image: LabConfig | None) -> None:
    """Everything but the service principals: what the image can hold as well. `image`
    is the configuration whose accounts the image holds; None while building it. The
    image's accounts are disabled, Administrator's included: from samba's start until
    this commits, nobody gets in with a packaged password the configuration replaces
    (a lab published beyond loopback has its own)."""
    image_build = image is None
    apply_password(db, "Administrator", config.admin_password, expired=False)
    apply_controls(db, "Administrator", disabled=image_build)
    domain_users = [u for u in config.users if u.in_domain]
    if not image_build:                   # the default's accounts this one does not have
        keep = {u.name for u in domain_users}
        for user in image.users:
            if user.in_domain and user.name not in keep and account(db, user.name) is not None:
                db.deleteuser(user.name)
        keep = {g.name for g in config.groups}
        for group in image.groups:
            if group.name not in keep and account(db, group.name) is not None:
                db.deletegroup(group.name)
    for group in config.groups:
        if account(db, group.name) is None:
            db.newgroup(group.name, description=group.description or None)
    if account(db, LOCKOUT_GROUP) is None:
        db.newgroup(LOCKOUT_GROUP, description="under the lab's lockout policy")
    apply_lockout_policy(db, account(db, LOCKOUT_GROUP).dn)
    for user in domain_users:
        apply_user(db, user, image_build)
    for group in config.groups:
        apply_members(db, group.name, [u.name for u in domain_users if group.name in u.groups])
    apply_members(db, LOCKOUT_GROUP, [u.name for u in domain_users if u.lockout])


def apply_service_principals(db: SamDB, config: LabConfig) -> list[str]:
    """The proxy's service account holds its SPN; a client on the host calls the proxy
    `localhost` (no /etc/hosts entry, no --resolve), so HTTP/localhost too, and with a
    remote engine by the engine's host name."""
    public_host = os.environ.get("LAB_PUBLIC_HOST", "127.0.0.1")
    principals = [config.proxy_spn, "HTTP/localhost",
                  *([f"HTTP/{public_host}"] if public_host != "127.0.0.1" else [])]
    service = account(db, config.ldap_bind_user.name,
                      ("servicePrincipalName", "msDS-SupportedEncryptionTypes"))
    held = {str(s).lower() for s in service.get("servicePrincipalName", [])}
    change = ldb.Message(service.dn)
    if [str(e) for e in service.get("msDS-SupportedEncryptionTypes", [])] != [AES_ONLY]:
        change["aes"] = ldb.MessageElement(AES_ONLY, ldb.FLAG_MOD_REPLACE,
                                           "msDS-SupportedEncryptionTypes")
    if missing := [spn for spn in principals if spn.lower() not in held]:
        change["spn"] = ldb.MessageElement(missing, ldb.FLAG_MOD_ADD, "servicePrincipalName")
    if len(change) > 0:
        db.modify(change)
    return principals


def export_keytab(parameters: LoadParm, principals: list[str], keytab: Path) -> None:
    """The principals' keys, written whole or not at all (the proxy waits for the file)."""
    partial = keytab.with_name(keytab.name + ".new")
    partial.unlink(missing_ok=True)
    net = Net(None, parameters)
    for principal in principals:         # each call appends
        net.export_keytab(keytab=str(partial), principal=principal)
    partial.chmod(0o644)                 # squid's helper runs as user proxy; a test lab
    partial.replace(keytab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("keytab", nargs="?", type=Path,
                       help="at a start: where to export the proxy's keys")
    where.add_argument("--image", type=Path, metavar="DEFAULT_TOML",
                       help="at build time: give the image the accounts of this file")
    arguments = parser.parse_args()
    image_build = arguments.image is not None
    config = load_file(arguments.image or Path("/etc/lab/lab.toml"), environ={})
    image = None if image_build else load_file(IMAGE_DEFAULT, environ={})
    parameters = LoadParm()
    parameters.load_default()
    db = SamDB(url="/var/lib/samba/private/sam.ldb", session_info=system_session(),
               lp=parameters)
    db.transaction_start()
    try:
        apply_accounts(db, config, image)
        # the image's default names another domain than a project may: principals at start
        principals = [] if image_build else apply_service_principals(db, config)
    except BaseException:
        db.transaction_cancel()
        raise
    db.transaction_commit()
    if image_build:
        return
    export_keytab(parameters, principals, arguments.keytab)
    print("dc: domain users:", ", ".join(u.name for u in config.users if u.in_domain),
          file=sys.stderr)


if __name__ == "__main__":
    main()
