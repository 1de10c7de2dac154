"""Certificates made in-process, for tidy TLS servers and the mock web server.

EC P-256 keys: generating one takes about a millisecond, so a test suite can
make a fresh certificate wherever it wants one. A `SelfSigned` is either a
self-signed certificate (its own trust root) or a leaf issued by a CA
(`make_ca` + `make_issued`), carrying the CA certificate(s) in `chain_pem` so
a server presents the whole chain and clients need trust only the CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\s*", re.S)
_KEY = re.compile(
    rb"-----BEGIN ([A-Z ]+ )?PRIVATE KEY-----.+?-----END ([A-Z ]+ )?PRIVATE KEY-----\s*", re.S)


@dataclass(frozen=True)
class SelfSigned:
    """A certificate, its key, and the certificates that issued it, all PEM.

    `chain_pem` is empty for a self-signed certificate; for an issued one it
    holds the issuing CA (then any further issuers), in the order a server sends them.
    """

    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes = b""

    @property
    def combined_pem(self) -> bytes:
        """Key, certificate, then the chain, in one PEM file (what the `web` service reads)."""
        return self.key_pem + self.cert_pem + self.chain_pem

    @property
    def ca_pem(self) -> bytes:
        """What a client trusts: the last certificate of the chain (the certificate
        itself when self-signed)."""
        chain = _CERT.findall(self.chain_pem)
        return chain[-1] if chain else self.cert_pem

    @classmethod
    def from_combined_pem(cls, data: bytes) -> SelfSigned:
        """Read a key, a certificate and optionally its chain (e.g. key, leaf, CA)."""
        keys = [match.group(0) for match in _KEY.finditer(data)]
        certs = _CERT.findall(data)
        if not certs:
            raise ValueError("no certificate in the PEM data")
        if not keys:
            raise ValueError("no private key in the PEM data")
        return cls(certs[0], keys[0], b"".join(certs[1:]))

    def server_options(self):
        """Twisted server-side TLS options presenting this certificate and its chain."""
        from twisted.internet import ssl

        private = ssl.PrivateCertificate.loadPEM(self.key_pem + self.cert_pem)
        return ssl.CertificateOptions(
            privateKey=private.privateKey.original, certificate=private.original,
            extraCertChain=[ssl.Certificate.loadPEM(pem).original
                            for pem in _CERT.findall(self.chain_pem)])

    def trust_root(self):
        """A trust root for clients (`optionsForClientTLS(..., trustRoot=...)`): the CA."""
        from twisted.internet import ssl

        return ssl.Certificate.loadPEM(self.ca_pem)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(common_name: str, public_key, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                           critical=False))


def _alt_names(hostnames, addresses) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [x509.DNSName(h) for h in hostnames]
        + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses])


def make_self_signed(hostnames: tuple[str, ...] = ("localhost",),
                     addresses: tuple[str, ...] = ("127.0.0.1",),
                     days: int = 30) -> SelfSigned:
    """A certificate valid for `hostnames` and `addresses` (subjectAltName)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(hostnames[0], key.public_key(), days)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .add_extension(_alt_names(hostnames, addresses), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return SelfSigned(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def make_ca(common_name: str = "lab test CA", issuer: SelfSigned | None = None,
            days: int = 30) -> SelfSigned:
    """A CA certificate: self-signed (a root), or issued by `issuer` (an intermediate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(common_name, key.public_key(), days)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True,
                   crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
    if issuer is None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = builder.issuer_name(name).sign(key, hashes.SHA256())
        return SelfSigned(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
    return SelfSigned(_sign(builder, issuer), _key_pem(key), issuer.cert_pem + issuer.chain_pem)


def make_issued(issuer: SelfSigned, hostnames: tuple[str, ...] = ("localhost",),
                addresses: tuple[str, ...] = ("127.0.0.1",), days: int = 30) -> SelfSigned:
    """A server certificate for `hostnames`/`addresses` issued by the CA `issuer`;
    its `chain_pem` is the issuer's certificate (and the issuer's own chain)."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(hostnames[0], key.public_key(), days)
               .add_extension(_alt_names(hostnames, addresses), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False))
    return SelfSigned(_sign(builder, issuer), _key_pem(key), issuer.cert_pem + issuer.chain_pem)


def _sign(builder: x509.CertificateBuilder, issuer: SelfSigned) -> bytes:
    ca_cert = x509.load_pem_x509_certificate(issuer.cert_pem)
    ca_key = serialization.load_pem_private_key(issuer.key_pem, password=None)
    cert = (builder.issuer_name(ca_cert.subject)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@lru_cache(maxsize=1)
def localhost_certificate() -> SelfSigned:
    """One certificate for localhost/127.0.0.1 per process, shared by tidy TLS servers."""
    return make_self_signed()
