"""squid Basic helper that routes each request to the checker of its port.

squid runs one Basic helper for all ports; `key_extras "%>lp"` appends the
local port to each line ("user password port", each URL-escaped). We forward
"user password" to basic_ncsa_auth (htpasswd) or basic_ldap_auth (the DC) by that
port, and map basic_ldap_auth's "BH" (what 5.7 answers for a wrong password) to ERR.
On the `corp` port the user may name the lab's domain as Windows clients do
(`AD\alice`, `alice@AD.EXAMPLE.COM`, any case): the DC is asked for `alice`.
"""

import os
import select
import subprocess
import sys
import urllib.parse

HELPERS = "/usr/lib/squid"
ANSWER_TIMEOUT = 2.0
HTPASSWD = [f"{HELPERS}/basic_ncsa_auth", "/etc/squid/htpasswd"]
# -c/-t: a domain controller that is gone or frozen costs a client seconds, not minutes
LDAP = [f"{HELPERS}/basic_ldap_auth", "-v", "3", "-R", "-c", "2", "-t", "2",
        "-b", f"cn=Users,{os.environ['LAB_BASE_DN']}",
        "-f", "sAMAccountName=%s",
        "-D", os.environ["LAB_LDAP_BIND_DN"],
        "-W", "/etc/squid/ldap-bind-password",
        "-h", os.environ["LAB_DC_FQDN"]]
#: squid's local port (inside the container; lab/config/topology.py sets them) -> checker.
#: On the group port the password is checked against the DC, the group by an
#: external ACL.
CHECKERS = {os.environ["LAB_CPORT_PROXY_BASIC"]: HTPASSWD,
            os.environ["LAB_CPORT_PROXY_LDAP"]: LDAP,
            os.environ["LAB_CPORT_PROXY_GROUP"]: LDAP,
            os.environ["LAB_CPORT_PROXY_CORP"]: LDAP}
#: ports whose users may carry the lab's domain (NETBIOS\\user, user@realm)
DOMAIN_FORMS = {os.environ["LAB_CPORT_PROXY_CORP"]}
DOMAINS = {os.environ["LAB_WORKGROUP"].lower(), os.environ["LAB_REALM"].lower(),
           os.environ["LAB_DOMAIN"].lower()}


def account_name(escaped_user: str) -> str:
    """The escaped user, without the lab's domain if it names it (another domain's user
    stays as given, and the DC knows no such account)."""
    user = urllib.parse.unquote(escaped_user)
    domain, sep, name = user.partition("\\")
    if not sep:
        name, sep, domain = user.rpartition("@")
    if sep and name and domain.lower() in DOMAINS:
        return urllib.parse.quote(name, safe="")
    return escaped_user


def main() -> None:
    children = {}
    for line in sys.stdin:
        fields = line.split()
        if len(fields) != 3 or fields[2] not in CHECKERS:
            print("ERR message=no checker for this port", flush=True)
            continue
        user, password, port = fields
        if port in DOMAIN_FORMS:
            user = account_name(user)
        child = children.get(port)
        if child is None or child.poll() is not None:
            child = children[port] = subprocess.Popen(
                CHECKERS[port], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, bufsize=1)
        child.stdin.write(f"{user} {password}\n")
        # A frozen or vanished DC must cost the client seconds, not minutes: no answer
        # within ANSWER_TIMEOUT is a refusal (the client sees 407), and the checker
        # is replaced.
        ready, _, _ = select.select([child.stdout], [], [], ANSWER_TIMEOUT)
        if not ready:
            child.kill()
            child.wait()
            children.pop(port)
            print("ERR message=the domain controller did not answer", flush=True)
            continue
        answer = child.stdout.readline().strip() or "BH message=checker died"
        if answer.startswith("BH"):
            answer = "ERR message=" + answer[2:].strip().removeprefix("message=")
        print(answer, flush=True)


if __name__ == "__main__":
    main()
