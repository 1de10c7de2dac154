"""TLS to the origin, verified, and explained when verification fails.

Behind a TLS-inspecting ("bumping") proxy every origin certificate is re-signed
by the proxy's corporate CA. A client that does not trust that CA sees only
OpenSSL's "certificate verify failed"; what the user needs is *who* signed
what was refused, so they know which CA to trust (`corporate_ca` of
`lab status --json`). `VerifyingCreator` is `optionsForClientTLS` plus a
witness that notes the issuer of a chain the handshake rejected, and
`explain()` puts it into the `OriginTLSError`.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

from lab.proxy.errors import OriginTLSError


def load_trust_root(*pem_paths: str | Path):
    """A trust root of every CA certificate in these PEM files: e.g. the lab's web
    CA and its corporate CA, for a bump port with bump-exempt origins."""
    certificates = []
    for path in pem_paths:
        for pem in _split_pem(Path(path).read_bytes()):
            certificates.append(ssl.Certificate.loadPEM(pem))
    if not certificates:
        raise ValueError(f"no certificate in {', '.join(map(str, pem_paths))}")
    return ssl.trustRootFromCertificates(certificates)


def _split_pem(data: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    return [part + end for part in data.split(end) if b"-----BEGIN CERTIFICATE-----" in part]


def _name(name: x509.Name) -> str:
    """A certificate name as people read it: its CN, else its whole RFC 4514 text."""
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else name.rfc4514_string()


@implementer(IOpenSSLClientConnectionCreator)
class VerifyingCreator:
    """Client TLS for `host`, verified against `trust_root` (None: the platform's);
    `rejected_issuer` is the issuer of the last chain this side refused."""

    def __init__(self, host: str, trust_root=None):
        self.host = host
        self._creator = ssl.optionsForClientTLS(host, trustRoot=trust_root)
        self.rejected_issuer: str | None = None

    def clientConnectionForTLS(self, tls_protocol) -> SSL.Connection:
        connection = self._creator.clientConnectionForTLS(tls_protocol)
        # Twisted < 23 checks the host name in its own info callback: keep calling it.
        previous = getattr(self._creator, "_identityVerifyingInfoCallback", None)

        def watch(conn: SSL.Connection, where: int, ret: int) -> None:
            if previous is not None:
                previous(conn, where, ret)
            if where & SSL.SSL_CB_ALERT and where & SSL.SSL_CB_WRITE:   # we refuse the peer
                try:
                    chain = conn.get_peer_cert_chain() or []
                    if chain:
                        self.rejected_issuer = _name(chain[-1].to_cryptography().issuer)
                except Exception:      # an explanation must never break the handshake
                    pass

        connection.set_info_callback(watch)
        return connection


def explain(error: OriginTLSError, creator: VerifyingCreator | None,
            context: str) -> OriginTLSError:
    """`error`, reworded to name the issuer of the refused certificate when known;
    `context` says which request through which proxy ("GET URL through proxy P")."""
    issuer = creator.rejected_issuer if creator is not None else None
    if issuer is None or "verify failed" not in error.text:
        return error
    return OriginTLSError(
        f"TLS with the origin failed for {context}: the certificate presented for "
        f"{creator.host} is not trusted: its chain was "
        f"issued by {issuer!r}, which is not a trusted root here. A TLS-inspecting proxy "
        "re-signs every origin with its own CA: trust that CA (e.g. `corporate_ca` of "
        "`lab status --json`) if this proxy is meant to inspect traffic",
        issuer=issuer)


def request_error(exc: Exception, via: str, method: bytes, uri: bytes,
                  creators: dict, where: str) -> Exception:
    """What a failed request through `via` raises: a `lab.proxy` error (an untrusted
    origin certificate names its issuer), or `exc` itself when nothing fits."""
    from twisted.web import client

    from lab.proxy.errors import translate

    what = f"{method.decode('latin-1')} {uri.decode('latin-1')}"
    translated = translate(exc, via, what)
    if isinstance(translated, OriginTLSError):
        host = client.URI.fromBytes(uri).host.decode("idna")
        translated = explain(translated, creators.get(host), f"{what} {where}")
    return translated
