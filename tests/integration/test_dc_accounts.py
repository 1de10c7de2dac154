"""The DC's image holds the packaged default's accounts, and a start applies what the
configuration changes, and only that (`apply_users.py`): run in a throwaway container
of the lab's own DC image (no network, nothing else running), on its real Samba
directory, which is read back before and after."""

import json
import subprocess
from pathlib import Path

import pytest

from lab.config.discovery import load_config, load_file
from lab.stack import state_files

pytestmark = pytest.mark.timeout(120)

#: The project's changes to the default: new passwords, a state each way, a user out of
#: the domain, group members changed, new users (mallory takes the wrong-password
#: scenarios' part, which erin's leaving hands to frank's).
CHANGES = """
[domain]
admin_password = "Down-The-Hole-2025"

[[users]]
name = "alice"
password = "Looking-Glass-2025"
in = ["domain", "htpasswd"]
groups = []

[[users]]
name = "bob"
password = "Marmalade-77!"
in = ["domain"]
state = "password-expired"

[[users]]
name = "heidi"
password = "Stale-Bread-2019"
in = ["domain"]

[[users]]
name = "erin"
password = "Dormant-Owl-58"
in = ["htpasswd"]

[[users]]
name = "dave"
password = "Harbour-Light-55"
in = ["domain", "htpasswd"]
groups = ["proxy-users"]

[[users]]
name = "mallory"
password = "Wrong-Turn-4242"
in = ["domain", "htpasswd"]
"""

#: Runs in the container: the directory's accounts, the configuration applied twice as a
#: start applies it, and the accounts after each run.
DRIVER = r"""
import json, subprocess, sys
import ldb
from samba.auth import system_session
from samba.crypto import md4_hash_blob
from samba.param import LoadParm
from samba.samdb import SamDB

given = json.load(sys.stdin)

def accounts():
    lp = LoadParm()
    lp.load_default()
    db = SamDB(url="/var/lib/samba/private/sam.ldb", session_info=system_session(), lp=lp)
    found = db.search(base=db.domain_dn(), scope=ldb.SCOPE_SUBTREE,
                      expression="(|(objectClass=user)(objectClass=group))",
                      attrs=["sAMAccountName", "unicodePwd", "pwdLastSet",
                             "userAccountControl", "uSNChanged", "member"])
    return {str(m["sAMAccountName"][0]): {
        "nt": bytes(m["unicodePwd"][0]).hex() if "unicodePwd" in m else None,
        "pwdLastSet": int(m["pwdLastSet"][0]) if "pwdLastSet" in m else None,
        "uac": int(m["userAccountControl"][0]) if "userAccountControl" in m else None,
        "usn": int(m["uSNChanged"][0]),
        "members": sorted(str(d).split(",")[0][3:].lower() for d in m.get("member", []))}
        for m in found}

runs = [accounts()]
with open("/etc/lab/lab.toml", "w") as config:
    config.write(given["config"])
for _ in range(2):
    subprocess.run(["python3", "/etc/lab/apply_users.py", "/tmp/HTTP.keytab"], check=True,
                   stdout=subprocess.DEVNULL)
    runs.append(accounts())
print(json.dumps({"runs": runs, "nt": {p: md4_hash_blob(p.encode("utf-16-le")).hex()
                                       for p in given["passwords"]}}))
"""

DONT_EXPIRE_PASSWORD, ACCOUNTDISABLE = 0x10000, 0x2


def _effective(tmp_path, text):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lab.toml").write_text(text)
    return load_config(file=project / "lab.toml",
                       environ={"LAB_STATE_HOME": str(tmp_path / "state")})


def test_a_start_applies_what_the_configuration_changes_and_nothing_else(
        lab_stack, lab_config, tmp_path):
    packaged = load_file(Path(str(lab_config.origin.default_file)), environ={})
    config = _effective(tmp_path, CHANGES)
    assert config.admin_password == "Down-The-Hole-2025" != packaged.admin_password
    passwords = sorted({packaged.admin_password, config.admin_password,
                        *(u.password for u in (*packaged.users, *config.users))})
    run = subprocess.run(
        ["docker", "run", "--rm", "-i", "--network", "none", "--entrypoint", "python3",
         f"{lab_config.project}-dc", "-c", DRIVER],
        input=json.dumps({"config": state_files.contents(config)["lab.toml"],
                          "passwords": passwords}),
        capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    image, started, again = answer["runs"]
    nt = answer["nt"]

    # the image: the packaged default's domain accounts, with its (public) passwords, all
    # disabled, Administrator's too, until a start has applied its configuration
    domain = {u.name: u.password for u in packaged.users if u.in_domain}
    for name, password in {**domain, "Administrator": packaged.admin_password}.items():
        assert image[name]["nt"] == nt[password], name
        assert image[name]["uac"] & ACCOUNTDISABLE, name
    assert not {u.name for u in packaged.users if not u.in_domain} & image.keys()
    assert image["proxy-users"]["members"] == ["alice"]

    assert started["Administrator"]["nt"] == nt["Down-The-Hole-2025"]
    assert started["alice"]["nt"] == nt["Looking-Glass-2025"]
    assert started["proxy-users"]["members"] == ["dave"]
    assert started["dave"]["nt"] == nt["Harbour-Light-55"]
    assert "erin" not in started                                  # out of the domain
    # bob keeps his password (not set again) and must change it at the next logon
    assert started["bob"]["nt"] == image["bob"]["nt"]
    assert started["bob"]["pwdLastSet"] == 0 != image["bob"]["pwdLastSet"]
    assert not started["bob"]["uac"] & DONT_EXPIRE_PASSWORD
    # heidi: no longer expired, and her password never expires, like the others'
    assert image["heidi"]["pwdLastSet"] == 0 != started["heidi"]["pwdLastSet"]
    assert started["heidi"]["uac"] & DONT_EXPIRE_PASSWORD
    enabled = {"Administrator", *(u.name for u in config.users if u.in_domain)} - {"grace"}
    assert not any(started[name]["uac"] & ACCOUNTDISABLE for name in enabled)
    assert started["grace"]["uac"] & ACCOUNTDISABLE
    # a password the configuration leaves as the image has it is not set again (setting
    # one derives the account's Kerberos keys)
    kept = domain.keys() & started.keys() - {"alice", "bob", "heidi"}
    assert kept >= {"frank", "grace", "ivan", "judy"}
    for name in kept:
        assert started[name]["pwdLastSet"] == image[name]["pwdLastSet"], name
        assert started[name]["nt"] == image[name]["nt"], name
    # and a second start (a lab started again as it is) writes nothing at all
    assert again == started
