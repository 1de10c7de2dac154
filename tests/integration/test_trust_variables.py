"""The CA variables of every common ecosystem, with its own client (issue 20, item 6): git
(GIT_SSL_CAINFO) and pip (PIP_CERT) through TLS inspection trust the corporate CA in
`bump-trusted` and refuse the re-signed certificate in `bump-untrusted`, from the
scenario's environment alone (`lab run`)."""

import sys

import pytest

from lab.web import packages
from tests.integration.helpers import run_lab

#: each client's own way of fetching from the scenario's URL, which the origin answers as
#: a git forge and a package index would (lab.web.packages), and what it shows on success
CLIENTS = {
    "git": (["git", "ls-remote", "{url}"], "refs/heads/main"),
    "pip": ([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--retries", "0", "--timeout", "10", "-d", "{tmp}", "--index-url",
             "{url}/simple/", packages.PACKAGE], f"Saved {{tmp}}/{packages.WHEEL_NAME}"),
}
REFUSED = {"git": "server certificate verification failed",
           "pip": "CERTIFICATE_VERIFY_FAILED"}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_the_corporate_ca_is_trusted_where_the_scenario_says(lab_endpoints, client, tmp_path):
    argv, reached = CLIENTS[client]
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    trusted = run_lab("run", "bump-trusted", "--", *argv, timeout=120)
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert reached.replace("{tmp}", str(tmp_path)) in trusted.stdout + trusted.stderr
    assert REFUSED[client] not in trusted.stdout + trusted.stderr
    untrusted = run_lab("run", "bump-untrusted", "--", *argv, timeout=120)
    assert REFUSED[client] in untrusted.stdout + untrusted.stderr, untrusted.stderr[-2000:]
