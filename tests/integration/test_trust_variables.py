"""The CA variables of every common ecosystem, with its own client (issue 20, item 6): git
(GIT_SSL_CAINFO) and pip (PIP_CERT) through TLS inspection trust the corporate CA in
`bump-trusted` and refuse the re-signed certificate in `bump-untrusted`, from the
scenario's environment alone (`lab run`)."""

import sys

import pytest

from tests.integration.helpers import run_lab

#: each client's own way of fetching the scenario's URL; the mock origin is no git
#: repository and no package index, so a client that trusted the chain fails later,
#: on what the origin answered
CLIENTS = {
    "git": (["git", "ls-remote", "{url}"], "is this a git repository?"),
    "pip": ([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--retries", "0", "--timeout", "10", "-d", "{tmp}", "--index-url",
             "{url}/simple/", "nothing-here"], "The only supported Content-Types"),
}
REFUSED = {"git": "server certificate verification failed",
           "pip": "CERTIFICATE_VERIFY_FAILED"}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_corporate_ca_is_trusted_where_the_scenario_says(lab_endpoints, client, tmp_path):
    argv, reached = CLIENTS[client]
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    trusted = run_lab("run", "bump-trusted", "--", *argv, timeout=120)
    assert reached in trusted.stdout + trusted.stderr, trusted.stderr[-2000:]
    assert REFUSED[client] not in trusted.stdout + trusted.stderr
    untrusted = run_lab("run", "bump-untrusted", "--", *argv, timeout=120)
    assert REFUSED[client] in untrusted.stdout + untrusted.stderr, untrusted.stderr[-2000:]
