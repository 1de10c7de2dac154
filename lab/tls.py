"""Self-signed certificates made in-process, for tidy TLS servers and the mock web server.

EC P-256 keys: generating one takes about a millisecond, so a test suite can
make a fresh certificate wherever it wants one.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class SelfSigned:
    """A certificate and its key, PEM-encoded; the certificate is its own trust root."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def combined_pem(self) -> bytes:
        """Key then certificate in one PEM file (what the `web` service reads)."""
        return self.key_pem + self.cert_pem

    @classmethod
    def from_combined_pem(cls, data: bytes) -> SelfSigned:
        marker = b"-----BEGIN CERTIFICATE-----"
        if marker not in data:
            raise ValueError("no certificate in the PEM data")
        key, _, cert = data.partition(marker)
        return cls(marker + cert, key)

    def server_options(self):
        """Twisted server-side TLS options presenting this certificate."""
        from twisted.internet import ssl

        return ssl.PrivateCertificate.loadPEM(self.key_pem + self.cert_pem).options()

    def trust_root(self):
        """A trust root for clients (`optionsForClientTLS(..., trustRoot=...)`)."""
        from twisted.internet import ssl

        return ssl.Certificate.loadPEM(self.cert_pem)


def make_self_signed(hostnames: tuple[str, ...] = ("localhost",),
                     addresses: tuple[str, ...] = ("127.0.0.1",),
                     days: int = 30) -> SelfSigned:
    """A certificate valid for `hostnames` and `addresses` (subjectAltName)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt_names = [x509.DNSName(h) for h in hostnames] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return SelfSigned(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()))


@lru_cache(maxsize=1)
def localhost_certificate() -> SelfSigned:
    """One certificate for localhost/127.0.0.1 per process, shared by tidy TLS servers."""
    return make_self_signed()
