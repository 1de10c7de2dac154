"""TLS inspection's CA hierarchy: a root of its own (not the web CA) and an issuing CA
under it, RSA for squid, keys 0600, kept across calls, and squid's `bump-ca.pem` (the
issuing CA) usable to re-sign an origin that a client trusting the hierarchy accepts."""

import os
import stat

import pytest
import pytest_twisted
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet import reactor

from lab.config.discovery import load_config
from lab.endpoints import CORPORATE_CA_FILE, CORPORATE_ISSUING_CA_FILE
from lab.mockweb import SAMPLE_RESOURCE, MockWebServer
from lab.proxy import DirectAgent, OriginTLSError, ProxyWebClient, load_trust_root
from lab.stack.certs import (
    BUMP_CA_FILE,
    CORPORATE_CA_KEY_FILE,
    CORPORATE_ISSUING_CA_KEY_FILE,
    corporate_ca_path,
    ensure_corporate_ca,
    ensure_web_certificate,
)
from lab.tidy.tls import SelfSigned, make_issued


@pytest.fixture
def config(lab_root, tmp_path):
    return load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path / "state")})


def _issuing(config) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (config.state_dir / CORPORATE_ISSUING_CA_FILE).read_bytes())


def test_a_root_and_an_issuing_ca_of_their_own_with_squid_files(config):
    path = ensure_corporate_ca(config)
    assert path == corporate_ca_path(config) == config.state_dir / CORPORATE_CA_FILE
    ca = x509.load_pem_x509_certificate(path.read_bytes())
    assert ca.subject.rfc4514_string() == "CN=lab corporate root CA (lab),O=lab corporate"
    assert ca.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert isinstance(ca.public_key(), rsa.RSAPublicKey)
    issuing = _issuing(config)
    assert issuing.subject.rfc4514_string() == ("CN=lab corporate issuing CA (lab),"
                                                "O=lab corporate")
    issuing.verify_directly_issued_by(ca)
    assert issuing.extensions.get_extension_for_class(
        x509.BasicConstraints).value.path_length == 0
    web_ca = x509.load_pem_x509_certificate(ensure_web_certificate(config).read_bytes())
    assert web_ca.subject != ca.subject and web_ca.public_key() != ca.public_key()
    bump = SelfSigned.from_combined_pem((config.state_dir / BUMP_CA_FILE).read_bytes())
    assert bump.cert_pem == (config.state_dir / CORPORATE_ISSUING_CA_FILE).read_bytes()
    for name in (CORPORATE_CA_KEY_FILE, CORPORATE_ISSUING_CA_KEY_FILE, BUMP_CA_FILE):
        assert stat.S_IMODE(os.stat(config.state_dir / name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_kept_across_calls_and_squid_copy_restored(config):
    first = ensure_corporate_ca(config).read_bytes()
    (config.state_dir / BUMP_CA_FILE).unlink()
    assert ensure_corporate_ca(config).read_bytes() == first
    assert (config.state_dir / BUMP_CA_FILE).is_file()


def test_a_key_that_does_not_match_makes_a_new_ca(config):
    first = ensure_corporate_ca(config).read_bytes()
    other = load_config(config.root, environ={"LAB_STATE_HOME": str(config.state_home),
                                              "LAB_PROJECT": "other"})
    ensure_corporate_ca(other)
    (config.state_dir / CORPORATE_CA_KEY_FILE).write_bytes(
        (other.state_dir / CORPORATE_CA_KEY_FILE).read_bytes())
    second = ensure_corporate_ca(config).read_bytes()
    assert second != first
    # the issuing CA follows its new root
    _issuing(config).verify_directly_issued_by(x509.load_pem_x509_certificate(second))
    bump = SelfSigned.from_combined_pem((config.state_dir / BUMP_CA_FILE).read_bytes())
    assert bump.cert_pem == (config.state_dir / CORPORATE_ISSUING_CA_FILE).read_bytes()


def test_a_root_made_before_the_issuing_ca_existed_is_replaced(config):
    """Labs before the hierarchy had a root that could sign no CA (path length 0)."""
    ensure_corporate_ca(config)
    root = x509.load_pem_x509_certificate((config.state_dir / CORPORATE_CA_FILE).read_bytes())
    from lab.stack import certs

    certs._load_or_make_ca(config.state_dir / "old.pem", config.state_dir / "old.key",
                           root.subject, lambda: rsa.generate_private_key(65537, 2048))
    (config.state_dir / CORPORATE_CA_FILE).write_bytes(
        (config.state_dir / "old.pem").read_bytes())
    (config.state_dir / CORPORATE_CA_KEY_FILE).write_bytes(
        (config.state_dir / "old.key").read_bytes())
    new = x509.load_pem_x509_certificate(ensure_corporate_ca(config).read_bytes())
    assert new.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    _issuing(config).verify_directly_issued_by(new)


@pytest_twisted.inlineCallbacks
def test_an_origin_resigned_with_bump_ca_pem(config):
    """What squid does with bump-ca.pem, done in-process: clients trusting
    corporate-ca.pem accept it; clients trusting only the web CA are told who signed."""
    ensure_web_certificate(config)
    corporate = ensure_corporate_ca(config)
    bump = SelfSigned.from_combined_pem((config.state_dir / BUMP_CA_FILE).read_bytes())
    origin = yield MockWebServer.start(
        "127.0.0.1", host="localhost", certificate=make_issued(bump, ("localhost",)))
    web_ca = config.state_dir / "web-ca.pem"
    try:
        # the server sends the issuing CA with its leaf, as squid does: the root alone
        # is enough
        issuing = config.state_dir / CORPORATE_ISSUING_CA_FILE
        for trust in (load_trust_root(corporate), load_trust_root(corporate, issuing),
                      load_trust_root(web_ca, corporate)):
            client = ProxyWebClient(agent=DirectAgent(reactor, trust_root=trust),
                                    reactor=reactor)
            try:
                body = yield client.get_page(origin.get_https_url() + "simpleresource")
                assert body == SAMPLE_RESOURCE
            finally:
                yield client.shutdown()
        client = ProxyWebClient(agent=DirectAgent(reactor, trust_root=load_trust_root(web_ca)),
                                reactor=reactor)
        try:
            with pytest.raises(OriginTLSError) as info:
                yield client.get_page(origin.get_https_url())
        finally:
            yield client.shutdown()
        assert info.value.issuer == "lab corporate root CA (lab)"      # the chain's top
    finally:
        yield origin.stop()
