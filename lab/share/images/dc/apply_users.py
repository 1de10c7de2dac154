"""Give the provisioned directory the configuration's Administrator password, users,
groups and the proxy's service principal: at every start, before samba runs, from the
configuration `lab up` hands the container (/etc/lab/lab.toml, never in the image).

One process and one transaction through Samba's own Python API (~0.5 s; `samba-tool`
costs ~0.3 s a call). Safe to run again on a restarted container: what exists is
updated, not added twice.
"""

import sys
from pathlib import Path

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

sys.path.insert(0, "/opt/lab")
from lab.config.discovery import load_file  # noqa: E402

#: AES128 + AES256 only: tickets for the proxy then come out AES, not RC4, as from a
#: current AD
AES_ONLY = "24"


def account(db: SamDB, name: str) -> ldb.Message | None:
    found = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                      expression=f"(sAMAccountName={ldb.binary_encode(name)})",
                      attrs=["servicePrincipalName", "member"])
    return found[0] if found else None


def set_password(db: SamDB, name: str, password: str) -> None:
    db.setpassword(f"(sAMAccountName={ldb.binary_encode(name)})", password,
                   force_change_at_next_login=False, username=name)


def main() -> None:
    config = load_file(Path("/etc/lab/lab.toml"), environ={})
    parameters = LoadParm()
    parameters.load_default()
    db = SamDB(url="/var/lib/samba/private/sam.ldb", session_info=system_session(),
               lp=parameters)
    db.transaction_start()
    try:
        set_password(db, "Administrator", config.admin_password)
        for group in config.groups:
            if account(db, group.name) is None:
                db.newgroup(group.name, description=group.description or None)
        for user in config.users:
            if not user.in_domain:
                continue
            if account(db, user.name) is None:
                db.newuser(user.name, user.password)
            else:
                set_password(db, user.name, user.password)
            db.setexpiry(f"(sAMAccountName={ldb.binary_encode(user.name)})", 0,
                         no_expiry_req=True)
        for group in config.groups:
            members = {str(m).lower() for m in account(db, group.name).get("member", [])}
            wanted = [u.name for u in config.users if group.name in u.groups
                      and str(account(db, u.name).dn).lower() not in members]
            if wanted:
                db.add_remove_group_members(group.name, wanted)
        # The proxy's service account holds its SPN; a client on the host calls the
        # proxy `localhost` (no /etc/hosts entry, no --resolve), so HTTP/localhost too.
        service = account(db, config.ldap_bind_user.name)
        held = {str(s).lower() for s in service.get("servicePrincipalName", [])}
        change = ldb.Message(service.dn)
        change["aes"] = ldb.MessageElement(AES_ONLY, ldb.FLAG_MOD_REPLACE,
                                           "msDS-SupportedEncryptionTypes")
        missing = [spn for spn in (config.proxy_spn, "HTTP/localhost")
                   if spn.lower() not in held]
        if missing:
            change["spn"] = ldb.MessageElement(missing, ldb.FLAG_MOD_ADD,
                                               "servicePrincipalName")
        db.modify(change)
    except BaseException:
        db.transaction_cancel()
        raise
    db.transaction_commit()
    print("dc: domain users:", ", ".join(u.name for u in config.users if u.in_domain),
          file=sys.stderr)


if __name__ == "__main__":
    main()
