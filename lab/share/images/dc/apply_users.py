"""Create the effective lab.toml's domain users and groups in the provisioned directory."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, "/opt/lab")
from lab.config.discovery import load_file  # noqa: E402


def samba_tool(*args: str) -> None:
    subprocess.run(["samba-tool", *args], check=True, stdout=subprocess.DEVNULL)


config = load_file(Path("/opt/lab/lab.toml"), environ={})
for group in config.groups:
    samba_tool("group", "add", group.name, f"--description={group.description}")
for user in config.users:
    if user.in_domain:
        samba_tool("user", "create", user.name, user.password)
        samba_tool("user", "setexpiry", "--noexpiry", user.name)
for group in config.groups:
    members = [u.name for u in config.users if group.name in u.groups]
    if members:
        samba_tool("group", "addmembers", group.name, ",".join(members))
# The proxy's service account holds its SPN, with AES keys only: tickets for the
# proxy then come out AES, not RC4, as from a current AD.
service = config.ldap_bind_user
samba_tool("spn", "add", config.proxy_spn, service.name)
# A client on the host calls the proxy `localhost` (no /etc/hosts entry, no
# --resolve): Kerberos then asks for HTTP/localhost, so the account holds that too.
samba_tool("spn", "add", "HTTP/localhost", service.name)
ldif = (f"dn: CN={service.name},CN=Users,{config.base_dn}\n"
        "changetype: modify\n"
        "replace: msDS-SupportedEncryptionTypes\n"
        "msDS-SupportedEncryptionTypes: 24\n")
subprocess.run(["ldbmodify", "-H", "/var/lib/samba/private/sam.ldb"], input=ldif, text=True,
               check=True, stdout=subprocess.DEVNULL)
print("domain users:", ", ".join(u.name for u in config.users if u.in_domain))
