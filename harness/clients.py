"""Well-known clients as the suite and the benchmarks run them, and what each is known
to fail: measured against the lab, stated once for both."""

from lab.scenarios.catalogue import SPECS

#: What a client with no PAC engine fails, given only the PAC's URL: it goes direct, and
#: lab names resolve nowhere on the host (`pac-direct` it passes: direct is right there).
NEEDS_PAC = [spec.name for spec in SPECS if spec.pac and not spec.direct]

#: What a curl user passes: --proxy-anyauth lets curl pick NTLM/Negotiate/Basic from
#: the 407; -U : enables Negotiate from the ticket cache (credentials in the proxy URL
#: win over it); -f turns 407/403 into a non-zero exit; --max-time is the client's own
#: bound, which `proxy-stall` demands.
CURL = ["curl", "-fsS", "--proxy-anyauth", "-U", ":", "--max-time", "5", "-o", "/dev/null",
        "{url}"]
#: What that curl (7.88) fails, as it does in a company: the `corp` port offers Negotiate
#: first, and without a usable ticket (none, or none for the name it calls the proxy by)
#: curl stays with Negotiate, never moving on to the NTLM or Basic its password would pass
#: (curl/curl#3726).
CURL_ANYAUTH_STUCK = ["corp-ntlm", "corp-ntlm-https", "corp-basic-only",
                      "corp-basic-only-https", "negotiate-alias"]
