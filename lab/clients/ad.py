"""Active Directory from a client's side: find the domain controllers in DNS, get a
Kerberos ticket. Plain dnspython and MIT krb5 tools; nothing here knows of Docker.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from lab.commands import run_command
from lab.errors import DiscoveryError, KerberosError

__all__ = ["DiscoveryTimeout", "DomainControllers", "DomainNotFound",
           "KerberosSession", "NoRecords", "Server", "discover_domain_controllers",
           "kinit", "krb5_conf", "make_resolver", "query", "rfc2782_order"]

#: What AD publishes for each service (standard SRV names; ports in the records).
SERVICES = {
    "ldap": "_ldap._tcp",
    "kerberos": "_kerberos._tcp",
    "global_catalog": "_gc._tcp",
}


class DomainNotFound(DiscoveryError):
    """NXDOMAIN: the DNS server says the name does not exist."""


class NoRecords(DiscoveryError):
    """The name exists but has no record of the asked type."""


class DiscoveryTimeout(DiscoveryError):
    """The DNS server did not answer in time."""


@dataclass(frozen=True)
class Server:
    target: str                 # host name, without the trailing dot
    port: int
    priority: int
    weight: int
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainControllers:
    domain: str
    ldap: list[Server] = field(default_factory=list)
    kerberos: list[Server] = field(default_factory=list)
    global_catalog: list[Server] = field(default_factory=list)


def rfc2782_order(records: list[Server], rng: random.Random | None = None) -> list[Server]:
    """Order SRV targets as RFC 2782 says: by priority, then weighted-random.

    Within a priority, zero-weight records go first in the list to draw from
    (so they keep a small chance), then repeatedly: sum the weights, draw a
    uniform integer in [0, sum], take the first record whose running sum
    reaches it. `rng` makes the draw reproducible in tests.
    """
    rng = rng or random.Random()
    ordered: list[Server] = []
    for priority in sorted({r.priority for r in records}):
        pool = sorted((r for r in records if r.priority == priority),
                      key=lambda r: (r.weight != 0, r.target, r.port))
        while pool:
            total = sum(r.weight for r in pool)
            draw = rng.randint(0, total)
            running = 0
            for index, record in enumerate(pool):
                running += record.weight
                if running >= draw:
                    ordered.append(pool.pop(index))
                    break
    return ordered


def make_resolver(nameserver: str | None = None, port: int = 53,
                  timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver asking `nameserver`:`port` only (the system's when None)."""
    if nameserver is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [nameserver]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def query(resolver: dns.resolver.Resolver, name: str, rtype: str = "A"):
    """`resolver.resolve` with every error turned into a DiscoveryError that says where
    (and bad input, such as an unknown type or an over-long name, into one that says why)."""
    where = f"{resolver.nameservers[0]}:{resolver.port}" if resolver.nameservers else "DNS"
    try:
        rdtype = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        raise DiscoveryError(f"{rtype!r} is not a DNS record type (try A, SRV, TXT, "
                             "SOA, NS, CNAME, PTR)") from None
    if dns.rdatatype.is_metatype(rdtype) or rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
        raise DiscoveryError(f"{rtype.upper()} is a meta-query, not a record type; zone "
                             "transfers are refused by the lab's DNS anyway")
    try:
        qname = dns.name.from_text(name)
    except dns.exception.DNSException as exc:
        raise DiscoveryError(f"{name[:80]!r} is not a valid DNS name: {exc}") from None
    try:
        return resolver.resolve(qname, rdtype)
    except dns.resolver.NXDOMAIN:
        raise DomainNotFound(f"{name} does not exist (NXDOMAIN from {where})") from None
    except dns.resolver.NoAnswer:
        raise NoRecords(f"{name} has no {rtype} record (asked {where})") from None
    except dns.resolver.NoNameservers as exc:
        raise DiscoveryError(f"{where} refused or failed to answer {name} {rtype}: "
                             f"{exc}") from None
    except dns.exception.Timeout:
        raise DiscoveryTimeout(f"no answer from {where} for {name} {rtype} within "
                               f"{resolver.lifetime} s") from None
    except dns.exception.DNSException as exc:
        raise DiscoveryError(f"{where} could not answer {name} {rtype}: {exc}") from None


def _servers(resolver, name: str) -> list[Server]:
    answer = query(resolver, name, "SRV")
    glue: dict[str, list[str]] = {}
    for rrset in answer.response.additional:
        if rrset.rdtype == dns.rdatatype.A:
            glue.setdefault(str(rrset.name).rstrip("."), []).extend(r.address for r in rrset)
    servers = []
    for record in answer:
        target = str(record.target).rstrip(".")
        addresses = glue.get(target) or [r.address for r in query(resolver, target, "A")]
        servers.append(Server(target, record.port, record.priority, record.weight,
                              tuple(addresses)))
    return servers


def discover_domain_controllers(domain: str, nameserver: str | None = None, port: int = 53,
                                rng: random.Random | None = None,
                                timeout: float = 5.0) -> DomainControllers:
    """The domain's LDAP, Kerberos and global catalog servers, from its SRV records,
    in RFC 2782 order, with their addresses resolved."""
    resolver = make_resolver(nameserver, port, timeout)
    found = {kind: rfc2782_order(_servers(resolver, f"{prefix}.{domain}"), rng)
             for kind, prefix in SERVICES.items()}
    return DomainControllers(domain, **found)


# -- Kerberos --------------------------------------------------------------------


def krb5_conf(realm: str, kdc_host: str, kdc_port: int,
              extra_hosts: tuple[str, ...] = ()) -> str:
    """A krb5.conf for a KDC in a container, reached through a published port.

    TCP first (`udp_preference_limit = 1`: AD replies overflow UDP); no
    reverse DNS and no name canonicalisation, or the client asks for service
    tickets under the container's internal names. `extra_hosts` are host names
    outside the domain that belong to the realm (e.g. `localhost`, the name a
    host client calls the lab's Negotiate proxy by).
    """
    extra = "".join(f"    {host} = {realm}\n" for host in extra_hosts)
    return (
        "[libdefaults]\n"
        f"    default_realm = {realm}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    rdns = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    udp_preference_limit = 1\n"
        "    default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n"
        "    default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96\n"
        "[realms]\n"
        f"    {realm} = {{\n"
        f"        kdc = {kdc_host}:{kdc_port}\n"
        "    }\n"
        "[domain_realm]\n"
        f"    .{realm.lower()} = {realm}\n"
        f"    {realm.lower()} = {realm}\n"
        + extra
    )


@dataclass(frozen=True)
class KerberosSession:
    """A ticket in a private credential cache, and the config that found the KDC."""

    principal: str
    ccache: Path
    config: Path
    owns_directory: bool = False      # made by kinit(): removed by close()

    def __enter__(self) -> KerberosSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Remove the ticket cache (and its directory, if kinit made it)."""
        if self.owns_directory:
            shutil.rmtree(self.ccache.parent, ignore_errors=True)
        else:
            self.ccache.unlink(missing_ok=True)

    @property
    def env(self) -> dict[str, str]:
        """Variables that make krb5 clients (curl, gssapi) use this ticket."""
        return {"KRB5CCNAME": f"FILE:{self.ccache}", "KRB5_CONFIG": str(self.config)}


def kinit(user: str, password: str, realm: str, kdc_host: str, kdc_port: int,
          directory: str | os.PathLike | None = None, timeout: float = 15,
          extra_hosts: tuple[str, ...] = ()) -> KerberosSession:
    """Get a TGT for `user@realm` into a private cache under `directory` (a new
    private temp dir by default); nothing touches the user's own ccache.
    `extra_hosts`: see `krb5_conf`."""
    if not user or password is None:
        raise KerberosError("kinit needs a user name and a password")
    where = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="lab-krb5-"))
    where.mkdir(parents=True, exist_ok=True)
    config = where / "krb5.conf"
    config.write_text(krb5_conf(realm, kdc_host, kdc_port, extra_hosts))
    session = KerberosSession(f"{user}@{realm}", where / "ccache", config,
                              owns_directory=directory is None)
    try:
        return _run_kinit(session, password, kdc_host, kdc_port, timeout)
    except BaseException:
        session.close()            # a failed kinit leaves nothing behind
        raise


def _run_kinit(session: KerberosSession, password: str, kdc_host: str, kdc_port: int,
               timeout: float) -> KerberosSession:
    proc = run_command(
        ["kinit", session.principal], input=password + "\n", env=session.env,
        error=KerberosError, what=f"kinit {session.principal}", timeout=timeout, check=False,
        missing="kinit is not installed: apt-get install krb5-user (or run `make host`)",
        on_timeout=f"kinit got no answer from {kdc_host}:{kdc_port} within {timeout} s: "
                   "is the lab up?", hide=(password,))
    if proc.returncode != 0 and "Password expired" in proc.stdout:
        # kinit then asks for a new password, and fails reading it: say what the KDC said
        raise KerberosError(f"kinit {session.principal}: the password has expired (the DC "
                            "wants it changed at the next logon)")
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip()).replace(password, "***")
        raise KerberosError(f"kinit {session.principal} failed (exit {proc.returncode}): "
                            f"{tail.splitlines()[-1] if tail else '(no output)'}")
    return session
