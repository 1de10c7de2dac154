import random
import socket

import pytest

from lab.clients.ad import (
    DiscoveryTimeout,
    Server,
    discover_domain_controllers,
    krb5_conf,
    rfc2782_order,
)


def servers(*specs):
    return [Server(f"dc{i}", 389, prio, weight) for i, (prio, weight) in enumerate(specs)]


def test_priority_comes_first():
    ordered = rfc2782_order(servers((10, 100), (0, 1), (5, 50)), random.Random(1))
    assert [s.priority for s in ordered] == [0, 5, 10]


def test_weights_share_the_draws_within_a_priority():
    records = servers((0, 90), (0, 10))
    rng = random.Random(42)
    firsts = [rfc2782_order(records, rng)[0].target for _ in range(2000)]
    share = firsts.count("dc0") / len(firsts)
    assert 0.85 < share < 0.95


def test_zero_weight_is_possible_but_rare():
    records = servers((0, 0), (0, 100))
    rng = random.Random(7)
    firsts = [rfc2782_order(records, rng)[0].target for _ in range(2000)]
    assert 0 < firsts.count("dc0") < 100


def test_same_seed_same_order():
    records = servers(*[(0, w) for w in (5, 10, 20, 40, 80)])
    assert rfc2782_order(records, random.Random(3)) == rfc2782_order(records, random.Random(3))
    assert sorted(rfc2782_order(records, random.Random(3)), key=lambda s: s.target) == records


def test_timeout_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:   # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        with pytest.raises(DiscoveryTimeout, match=f"127.0.0.1:{port}"):
            discover_domain_controllers("ad.example.com", "127.0.0.1", port, timeout=0.3)


def test_krb5_conf_has_what_containerised_kerberos_needs():
    text = krb5_conf("AD.EXAMPLE.COM", "127.0.0.1", 10088)
    for needle in ("default_realm = AD.EXAMPLE.COM", "kdc = 127.0.0.1:10088", "rdns = false",
                   "dns_canonicalize_hostname = false", "udp_preference_limit = 1"):
        assert needle in text
