"""What a JVM reads instead of the proxy and CA variables: `JAVA_TOOL_OPTIONS`.

Java ignores `http_proxy` and the CA bundle variables. Every JVM started in a
scenario's environment picks up `JAVA_TOOL_OPTIONS` (it says so on standard error):
the proxy as `-Dhttp(s).proxyHost/Port` (`-DsocksProxyHost/Port` for SOCKS,
`-Dhttp.nonProxyHosts` for `no_proxy`), and a PKCS#12 trust store of the scenario's CAs
(`-Djavax.net.ssl.trustStore`). Never a credential: the JVM has no property for a
proxy's user, and it prints these options. An application gives its proxy user to an
`Authenticator`, as it would in a company.

The trust stores are made with the JDK's own `keytool` (PKCS#12 files Java trusts need
its attributes on each entry), once per content of their CAs: a machine without a
JDK gets no trust store, and no JVM to run anyway. They hold the lab's CAs alone,
not Java's `cacerts`: every origin a scenario names is the lab's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.commands import run_command
from lab.errors import LabError

#: the trust stores' password (`-Djavax.net.ssl.trustStorePassword`): they hold only
#: public certificates, and keytool wants one
STORE_PASSWORD = "changeit"
KEYTOOL_TIMEOUT = 60


def trust_stores(directory: Path, cas: Mapping[str, Sequence[Path]]) -> dict[str, Path]:
    """{trust kind: PKCS#12 trust store of those CA files}, made in `directory` when
    their content changed; {} without keytool."""
    keytool = shutil.which("keytool")
    if keytool is None:
        return {}
    return {kind: _store(keytool, directory, kind, files) for kind, files in cas.items()}


def _store(keytool: str, directory: Path, kind: str, files: Sequence[Path]) -> Path:
    pems = [f.read_bytes() for f in files]
    digest = hashlib.sha256(b"\0".join(pems)).hexdigest()[:16]
    path = directory / f"java-{kind}-{digest}.p12"
    if path.is_file():
        return path
    with tempfile.TemporaryDirectory(dir=directory, prefix=".java-") as scratch:
        store = Path(scratch) / "store.p12"
        for number, pem in enumerate(files):
            run_command([keytool, "-importcert", "-noprompt", "-alias", f"lab-ca-{number}",
                         "-file", str(pem), "-keystore", str(store), "-storetype", "PKCS12",
                         "-storepass", STORE_PASSWORD], error=LabError,
                        what=f"keytool making the {kind} trust store", timeout=KEYTOOL_TIMEOUT,
                        missing="keytool is gone: install a JDK")
        os.chmod(store, 0o644)
        os.replace(store, path)             # whole or not at all; parallel makers agree
    for old in directory.glob(f"java-{kind}-*.p12"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def tool_options(proxy: str | None, no_proxy: str | None, trust_store: Path | None) -> str:
    """`JAVA_TOOL_OPTIONS` for a proxy URL (None: no proxy variables, as for a PAC),
    `no_proxy` and a trust store (None: Java's own cacerts)."""
    options = []
    if proxy:
        parts = urllib.parse.urlsplit(proxy)
        if parts.scheme.startswith("socks"):
            options += [f"-DsocksProxyHost={parts.hostname}", f"-DsocksProxyPort={parts.port}"]
        else:
            for scheme in ("http", "https"):
                options += [f"-D{scheme}.proxyHost={parts.hostname}",
                            f"-D{scheme}.proxyPort={parts.port}"]
    if no_proxy:
        options.append("-Dhttp.nonProxyHosts=" + "|".join(no_proxy.split(",")))
    if trust_store is not None:
        options += [f"-Djavax.net.ssl.trustStore={trust_store}",
                    "-Djavax.net.ssl.trustStoreType=PKCS12",
                    f"-Djavax.net.ssl.trustStorePassword={STORE_PASSWORD}"]
    return " ".join(options)
