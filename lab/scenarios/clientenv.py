"""What a client's environment is made of: the variables clients read, the CA
bundles they trust, a port nothing listens on, private ticket caches.

`lab.scenarios.scenario` decides what each scenario puts here; the files are written
by `lab.files` (whole or not at all, private from birth).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from lab.endpoints import CORPORATE_ISSUING_CA_FILE, LOOPBACK
from lab.errors import LabError
from lab.files import write_atomic, write_if_changed

#: Where a PAC-only scenario puts the PAC's URL: `auto_proxy` is the variable
#: Chromium reads on Linux; LAB_PAC_URL is ours, for clients that take a PAC URL.
PAC_VARIABLES = ("auto_proxy", "LAB_PAC_URL")
#: A PAC names proxies, never credentials: a PAC scenario whose proxy authenticates
#: gives them here (no variable is common to clients; ours reads these).
PAC_CREDENTIAL_VARIABLES = ("LAB_PROXY_USER", "LAB_PROXY_PASSWORD")
#: Where each ecosystem reads the CAs to trust: OpenSSL (and Python's ssl, Go on Linux),
#: requests, curl, Node, git, pip, npm, the AWS SDKs and CLI. Each names the whole bundle
#: (the system's CAs plus the scenario's), as npm's `cafile` and pip's `cert` replace
#: the defaults rather than add to them.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                "GIT_SSL_CAINFO", "PIP_CERT", "NPM_CONFIG_CAFILE", "AWS_CA_BUNDLE")
_PROXY_NAMES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")
#: Every variable a scenario owns: set from the scenario, or removed from the
#: inherited environment (a user's own `no_proxy=*` must not leak into a run).
MANAGED_VARIABLES: tuple[str, ...] = (
    *_PROXY_NAMES, *(n.upper() for n in _PROXY_NAMES), *CA_VARIABLES, "SSL_CERT_DIR",
    "KRB5CCNAME", "KRB5_CONFIG", "LAB_URL", "LAB_HTTPS_URL", "LAB_SCENARIO", "LAB_EXPECT",
    *PAC_VARIABLES, *PAC_CREDENTIAL_VARIABLES, "JAVA_TOOL_OPTIONS")
TRUSTED_BUNDLE = "ca-bundle.pem"        # system CAs + the lab's web CA
SYSTEM_BUNDLE = "ca-system.pem"         # system CAs only (tls-untrusted)
#: system CAs + TLS inspection's root and issuing CAs, as companies push both (bump-trusted)
CORPORATE_BUNDLE = "ca-corporate.pem"
#: system CAs + TLS inspection's root alone: the issuing CA must come from the proxy
#: (bump-chain)
CORPORATE_ROOT_BUNDLE = "ca-corporate-root.pem"
_SYSTEM_CA_CANDIDATES = ("/etc/ssl/certs/ca-certificates.crt",
                         "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")


def system_ca_file() -> Path | None:
    """The system's CA bundle (what OpenSSL would trust by default), if any."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *_SYSTEM_CA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def write_ca_bundles(directory: Path, lab_ca: Path,
                     corporate_ca: Path | None = None) -> dict[str, Path]:
    """The bundles CA variables point at, by what they trust besides the system's
    CAs: "lab" (the web service's CA), "corporate" (TLS inspection's root and issuing
    CAs, when the root is given; the issuing CA's file is beside it),
    "corporate-root" (the root alone), "system" (nothing more). Kept in `directory`
    (the project's state dir: they outlive `lab env`, rewritten only when their
    content changes)."""
    directory.mkdir(parents=True, exist_ok=True)
    system = system_ca_file()
    system_pem = system.read_bytes() if system else b""
    if system_pem and not system_pem.endswith(b"\n"):
        system_pem += b"\n"
    bundles = {"lab": _bundle(directory / TRUSTED_BUNDLE, system_pem, lab_ca),
               "system": write_if_changed(directory / SYSTEM_BUNDLE, system_pem)}
    if corporate_ca is not None:
        bundles["corporate"] = _bundle(directory / CORPORATE_BUNDLE, system_pem, corporate_ca,
                                       corporate_ca.parent / CORPORATE_ISSUING_CA_FILE)
        bundles["corporate-root"] = _bundle(directory / CORPORATE_ROOT_BUNDLE, system_pem,
                                            corporate_ca)
    return bundles


def _bundle(path: Path, system_pem: bytes, *cas: Path) -> Path:
    pem = system_pem
    for ca in cas:
        try:
            pem += ca.read_bytes()
        except OSError as exc:
            raise LabError(f"the lab's CA certificate {ca} is unreadable ({exc.strerror}); "
                           "run `lab up`") from None
    return write_if_changed(path, pem)


def closed_port() -> socket.socket:
    """A socket bound on 127.0.0.1 but not listening: connecting gets refused,
    and nobody else can take the port while it is held (close it after)."""
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    return sock


def copy_private(source: Path, target: Path) -> None:
    """Copy a ticket cache, readable by its owner only (as kinit makes it)."""
    write_atomic(target, source.read_bytes(), 0o600)
