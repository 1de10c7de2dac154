"""Give the provisioned directory the configuration's Administrator password, users
(their states: disabled, password expired), groups, the lockout policy and the proxy's
service principals, then export those principals' keys for squid: at every start, beside
samba's, from the configuration `lab up` hands the container (/etc/lab/lab.toml, never
in the image).

One process through Samba's own Python API (~0.5 s; `samba-tool` costs ~0.3 s a call),
one transaction. Safe to run again on a restarted container: what exists is
updated, not added twice. Samba takes the changes as they commit (its directory is
shared through ldb's locks, as for `samba-tool` on a running DC).
"""

import os
import sys
from pathlib import Path

import ldb
from samba import dckeytab  # noqa: F401  (gives Net its export_keytab)
from samba.auth import system_session
from samba.net import Net
from samba.param import LoadParm
from samba.samdb import SamDB

sys.path.insert(0, "/opt/lab")
from lab.config.discovery import load_file  # noqa: E402
from lab.config.users import (  # noqa: E402
    DISABLED,
    LOCKOUT_GROUP,
    LOCKOUT_THRESHOLD,
    PASSWORD_EXPIRED,
)

#: AES128 + AES256 only: tickets for the proxy then come out AES, not RC4, as from a
#: current AD
AES_ONLY = "24"
#: userAccountControl bits
ACCOUNTDISABLE, DONT_EXPIRE_PASSWORD = 0x2, 0x10000
#: the lockout policy's PSO: 30 minutes (in AD's negative 100 ns units) to reset the count
#: of wrong passwords; a locked account stays locked until unlocked (duration 0)
LOCKOUT_PSO = "lab-lockout-policy"
THIRTY_MINUTES = str(-30 * 60 * 10**7)


def account(db: SamDB, name: str) -> ldb.Message | None:
    found = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                      expression=f"(sAMAccountName={ldb.binary_encode(name)})",
                      attrs=["servicePrincipalName", "member"])
    return found[0] if found else None


def set_password(db: SamDB, name: str, password: str, expired: bool = False) -> None:
    db.setpassword(f"(sAMAccountName={ldb.binary_encode(name)})", password,
                   force_change_at_next_login=expired, username=name)


def set_account_control(db: SamDB, name: str, on: int, off: int) -> None:
    """Set the `on` bits of the user's userAccountControl and clear the `off` ones."""
    found = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                      expression=f"(sAMAccountName={ldb.binary_encode(name)})",
                      attrs=["userAccountControl"])[0]
    old = int(found["userAccountControl"][0])
    new = (old | on) & ~off
    if new != old:
        change = ldb.Message(found.dn)
        change["uac"] = ldb.MessageElement(str(new), ldb.FLAG_MOD_REPLACE,
                                           "userAccountControl")
        db.modify(change)


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
    keytab = Path(sys.argv[1])
    config = load_file(Path("/etc/lab/lab.toml"), environ={})
    parameters = LoadParm()
    parameters.load_default()
    db = SamDB(url="/var/lib/samba/private/sam.ldb", session_info=system_session(),
               lp=parameters)
    db.transaction_start()
    set_password(db, "Administrator", config.admin_password)
    try:
        for group in config.groups:
            if account(db, group.name) is None:
                db.newgroup(group.name, description=group.description or None)
        if account(db, LOCKOUT_GROUP) is None:
            db.newgroup(LOCKOUT_GROUP, description="under the lab's lockout policy")
        apply_lockout_policy(db, account(db, LOCKOUT_GROUP).dn)
        for user in config.users:
            if not user.in_domain:
                continue
            expired = user.state == PASSWORD_EXPIRED
            if account(db, user.name) is None:
                db.newuser(user.name, user.password,
                           force_password_change_at_next_login_req=expired)
            else:
                set_password(db, user.name, user.password, expired=expired)
            db.setexpiry(f"(sAMAccountName={ldb.binary_encode(user.name)})", 0,
                         no_expiry_req=True)
            # an expired password must not be one that never expires
            set_account_control(
                db, user.name,
                on=(ACCOUNTDISABLE if user.state == DISABLED else 0),
                off=(ACCOUNTDISABLE if user.state != DISABLED else 0)
                | (DONT_EXPIRE_PASSWORD if expired else 0))
        memberships = [(g.name, [u.name for u in config.users if g.name in u.groups])
                       for g in config.groups]
        memberships.append((LOCKOUT_GROUP, [u.name for u in config.users
                                            if u.in_domain and u.lockout]))
        for group, names in memberships:
            members = {str(m).lower() for m in account(db, group).get("member", [])}
            wanted = [n for n in names if str(account(db, n).dn).lower() not in members]
            if wanted:
                db.add_remove_group_members(group, wanted)
        # The proxy's service account holds its SPN; a client on the host calls the
        # proxy `localhost` (no /etc/hosts entry, no --resolve), so HTTP/localhost too,
        # and with a remote engine by the engine's host name.
        public_host = os.environ.get("LAB_PUBLIC_HOST", "127.0.0.1")
        principals = [config.proxy_spn, "HTTP/localhost",
                      *([f"HTTP/{public_host}"] if public_host != "127.0.0.1" else [])]
        service = account(db, config.ldap_bind_user.name)
        held = {str(s).lower() for s in service.get("servicePrincipalName", [])}
        change = ldb.Message(service.dn)
        change["aes"] = ldb.MessageElement(AES_ONLY, ldb.FLAG_MOD_REPLACE,
                                           "msDS-SupportedEncryptionTypes")
        missing = [spn for spn in principals if spn.lower() not in held]
        if missing:
            change["spn"] = ldb.MessageElement(missing, ldb.FLAG_MOD_ADD,
                                               "servicePrincipalName")
        db.modify(change)
    except BaseException:
        db.transaction_cancel()
        raise
    db.transaction_commit()
    export_keytab(parameters, principals, keytab)
    print("dc: domain users:", ", ".join(u.name for u in config.users if u.in_domain),
          file=sys.stderr)


if __name__ == "__main__":
    main()
