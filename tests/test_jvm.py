"""JAVA_TOOL_OPTIONS: the proxy and trust store a JVM reads, and the PKCS#12 trust stores
made with the JDK's keytool (a real one, from real certificates)."""

import shutil
import subprocess

from lab.config.discovery import load_config
from lab.scenarios import jvm
from lab.stack.certs import ensure_corporate_ca, ensure_web_certificate


def test_options_name_the_proxy_never_its_credentials():
    options = jvm.tool_options("http://alice:Secret-1@127.0.0.1:3129", None, None)
    assert options == ("-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=3129 "
                       "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=3129")
    socks = jvm.tool_options("socks5h://alice:Secret-1@127.0.0.1:1080", "127.0.0.1,localhost",
                             None)
    assert socks == ("-DsocksProxyHost=127.0.0.1 -DsocksProxyPort=1080 "
                     "-Dhttp.nonProxyHosts=127.0.0.1|localhost")
    assert jvm.tool_options(None, None, None) == ""


def test_trust_stores_hold_the_cas_java_then_trusts(lab_root, tmp_path):
    config = load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path / "state")})
    web = ensure_web_certificate(config)
    root = ensure_corporate_ca(config)
    issuing = root.parent / "corporate-issuing-ca.pem"
    stores = jvm.trust_stores(config.state_dir, {"lab": [web], "corporate": [root, issuing]})
    listing = subprocess.run(
        [shutil.which("keytool"), "-list", "-keystore", str(stores["corporate"]),
         "-storetype", "PKCS12", "-storepass", jvm.STORE_PASSWORD],
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert listing.count("trustedCertEntry") == 2
    # made once per content: the same store again, a new one when a CA changes
    again = jvm.trust_stores(config.state_dir, {"lab": [web]})
    assert again["lab"] == stores["lab"]
    assert "-Djavax.net.ssl.trustStore=" + str(stores["lab"]) in jvm.tool_options(
        None, None, stores["lab"])
