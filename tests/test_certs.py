"""The web service's TLS material: a lab CA, a leaf that is not a CA, private keys 0600."""

import os
import stat

from cryptography import x509

from lab.config.discovery import load_config
from lab.stack.certs import CA_KEY_FILE, WEB_TLS_FILE, ensure_web_certificate


def _certs(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


def test_leaf_signed_by_the_lab_ca_and_not_a_ca(lab_root, tmp_path):
    config = load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path)})
    ca_path = ensure_web_certificate(config)
    ca = _certs(ca_path.read_bytes())[0]
    leaf, chain_ca = _certs((config.state_dir / WEB_TLS_FILE).read_bytes())
    assert chain_ca == ca and leaf.issuer == ca.subject
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 398
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "web.ad.example.com" in names.get_values_for_type(x509.DNSName)
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                           __import__("cryptography.hazmat.primitives.asymmetric.ec",
                                      fromlist=["ECDSA"]).ECDSA(leaf.signature_hash_algorithm))


def test_private_keys_are_0600(lab_root, tmp_path):
    """Bug: the web service's key file was written 0644."""
    config = load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path)})
    ensure_web_certificate(config)
    for name in (WEB_TLS_FILE, CA_KEY_FILE):
        assert stat.S_IMODE(os.stat(config.state_dir / name).st_mode) == 0o600


def test_kept_across_calls_and_renewed_when_names_change(lab_root, tmp_path):
    env = {"LAB_STATE_HOME": str(tmp_path)}
    config = load_config(lab_root, environ=env)
    ensure_web_certificate(config)
    first = (config.state_dir / WEB_TLS_FILE).read_bytes()
    ensure_web_certificate(config)
    assert (config.state_dir / WEB_TLS_FILE).read_bytes() == first
    moved = load_config(lab_root, environ={**env, "LAB_SUBNET": "10.77.0.0/24"})
    ensure_web_certificate(moved)
    leaf = _certs((config.state_dir / WEB_TLS_FILE).read_bytes())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.77.0.13" in {str(a) for a in san.get_values_for_type(x509.IPAddress)}


def test_garbage_files_are_replaced_not_a_traceback(lab_root, tmp_path):
    config = load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path)})
    config.state_dir.mkdir(parents=True)
    for name in (WEB_TLS_FILE, "web-ca.pem", CA_KEY_FILE):
        (config.state_dir / name).write_text("not a certificate\n")
    ca = _certs(ensure_web_certificate(config).read_bytes())[0]
    assert _certs((config.state_dir / WEB_TLS_FILE).read_bytes())[0].issuer == ca.subject
