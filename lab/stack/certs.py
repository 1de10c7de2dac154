"""The lab's TLS material, kept per project on the host.

A small lab CA (the file clients trust, `web-ca.pem`) signs a server
certificate for the web service's names (`web-tls.pem`: key, leaf, CA; mounted
into the container). Both outlive `lab down`, so a client that trusts the CA
keeps working; the leaf is renewed when it nears expiry or when the names it
must carry change. Private keys are written 0600, files appear whole or not at
all.

TLS inspection has a CA hierarchy of its own, as a company's has: the corporate
root CA (`corporate-ca.pem`, `corporate_ca` in `lab status --json`, what clients
trust) signs an issuing CA (`corporate-issuing-ca.pem`), and the issuing CA is what
the `bump` proxy port re-signs origins with. squid sends it along with every leaf it
makes, so a client that trusts the root alone builds the chain from what the proxy
sent. A separate hierarchy, so trusting the web CA never means trusting bumped
traffic. The keys stay in the state directory; `bump-ca.pem` (the issuing CA's key
and certificate, what squid's `tls-cert=` reads) is mounted into the proxy
container. RSA, not EC: squid's certificate generator signs with it, and RSA is
what every squid build takes.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.config.model import LabConfig
from lab.endpoints import CORPORATE_CA_FILE, CORPORATE_ISSUING_CA_FILE, WEB_CA_FILE
from lab.files import write_atomic

WEB_TLS_FILE = "web-tls.pem"      # key + leaf + CA, mounted into the web container
CA_KEY_FILE = "lab-ca.key"
CA_DAYS = 5 * 365
LEAF_DAYS = 397                   # what browsers accept for a server certificate
RENEW_BEFORE = datetime.timedelta(days=30)
CORPORATE_CA_KEY_FILE = "corporate-ca.key"
CORPORATE_ISSUING_CA_KEY_FILE = "corporate-issuing-ca.key"
BUMP_CA_FILE = "bump-ca.pem"               # key + certificate, 0600: mounted into the proxy


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _load_or_make_ca(cert_path: Path, key_path: Path, name: x509.Name, make_key, *,
                     path_length: int = 0, issuer=None):
    """(certificate, key, made): the CA in these files, or a new one (written, key
    0600) when they are missing, unreadable, near expiry, or not what is asked for
    (`path_length`; signed by `issuer`, a (certificate, key), else self-signed)."""
    issuer_cert, issuer_key = issuer if issuer else (None, None)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        # our own file, its public half compared below: RSA's slow self-check skipped
        key = serialization.load_pem_private_key(key_path.read_bytes(), None,
                                                 unsafe_skip_rsa_key_validation=True)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if (cert.not_valid_after_utc - _now() > RENEW_BEFORE
                and cert.public_key() == key.public_key()
                and constraints.path_length == path_length
                and (issuer_cert is None or (cert.issuer == issuer_cert.subject
                                             and _signed_by(cert, issuer_cert)))):
            return cert, key, False
    except (OSError, ValueError, x509.ExtensionNotFound):
        pass                    # missing, unreadable or not this CA: make a new one
    key = make_key()
    cert = (x509.CertificateBuilder().subject_name(name)
            .issuer_name(issuer_cert.subject if issuer_cert else name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length),
                           critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False))
    if issuer_cert is not None:
        cert = cert.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    cert = cert.sign(issuer_key or key, hashes.SHA256())
    write_atomic(key_path, _pem_key(key), 0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key, True


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ca(state: Path, project: str):
    """The project's web CA (certificate, key), made on first use."""
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"lab CA ({project})")])
    cert, key, made = _load_or_make_ca(state / WEB_CA_FILE, state / CA_KEY_FILE, name,
                                       lambda: ec.generate_private_key(ec.SECP256R1()))
    if made:
        (state / WEB_TLS_FILE).unlink(missing_ok=True)   # its leaf was signed by the old CA
    return cert, key


def corporate_ca_path(config: LabConfig) -> Path:
    """Where the corporate CA's certificate is (`corporate_ca` in `lab status --json`)."""
    return config.state_dir / CORPORATE_CA_FILE


def ensure_corporate_ca(config: LabConfig) -> Path:
    """Make (or renew) TLS inspection's root CA, its issuing CA and squid's copy of the
    issuing one (`bump-ca.pem`); returns the root's path, the file clients trust."""
    state = config.state_dir
    state.mkdir(parents=True, exist_ok=True)

    def name(what: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lab corporate"),
                          x509.NameAttribute(NameOID.COMMON_NAME,
                                             f"lab corporate {what} ({config.project})")])

    def rsa_key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    root = _load_or_make_ca(state / CORPORATE_CA_FILE, state / CORPORATE_CA_KEY_FILE,
                            name("root CA"), rsa_key, path_length=1)
    cert, key, _ = _load_or_make_ca(
        state / CORPORATE_ISSUING_CA_FILE, state / CORPORATE_ISSUING_CA_KEY_FILE,
        name("issuing CA"), rsa_key, issuer=root[:2])
    pem = _pem_key(key) + cert.public_bytes(serialization.Encoding.PEM)
    bump = state / BUMP_CA_FILE
    if not bump.is_file() or bump.read_bytes() != pem:
        write_atomic(bump, pem, 0o600)
    return state / CORPORATE_CA_FILE


def _leaf_is_current(path: Path, names: list[x509.GeneralName], ca) -> bool:
    if not path.is_file():
        return False
    try:
        leaf = x509.load_pem_x509_certificates(path.read_bytes())[0]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, IndexError, x509.ExtensionNotFound):
        return False            # unreadable: make a new one
    return (leaf.issuer == ca.subject and set(san) == set(names)
            and leaf.not_valid_after_utc - _now() > RENEW_BEFORE)


def ensure_web_certificate(config: LabConfig) -> Path:
    """Make (or renew) the web service's certificate; returns the CA file clients trust."""
    state = config.state_dir
    state.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ca(state, config.project)
    # how clients reach it: by its lab names through a proxy, and at the published
    # port on this machine (localhost, 127.0.0.1) or on a remote engine's host
    public = config.public_host
    addresses = dict.fromkeys(("127.0.0.1", config.address("web")))
    dns_names = dict.fromkeys((*config.web_names, "web", "localhost"))
    try:
        addresses[str(ipaddress.ip_address(public))] = None
    except ValueError:
        dns_names[public] = None
    names = [x509.DNSName(n) for n in dns_names] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    tls_path = state / WEB_TLS_FILE
    if not _leaf_is_current(tls_path, names, ca_cert):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            config.web_fqdn)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        write_atomic(tls_path, _pem_key(key) + leaf.public_bytes(pem) + ca_cert.public_bytes(pem),
               0o600)
    return state / WEB_CA_FILE
