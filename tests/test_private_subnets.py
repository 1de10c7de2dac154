"""The private labs the suite and the benchmarks start each have a subnet of their own:
two that overlap fail the second `lab up` whenever their files run at once (they did,
once a file moved between test tiers)."""

import ipaddress
import itertools
import re
from pathlib import Path

from lab.config.discovery import load_config

REPO = Path(__file__).resolve().parents[1]
WHERE = ["tests/integration", "bench", "harness", "examples"]


def _subnets() -> list[tuple[str, ipaddress.IPv4Network]]:
    found = []
    for folder in WHERE:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".toml", ".sh") or "__pycache__" in path.parts:
                continue
            for text in re.findall(r"\b\d+\.\d+\.\d+\.\d+/\d+\b", path.read_text()):
                network = ipaddress.ip_network(text, strict=False)
                if network.subnet_of(ipaddress.ip_network("172.16.0.0/12")):
                    found.append((str(path.relative_to(REPO)), network))
    return found


def test_no_two_files_share_a_private_labs_subnet():
    subnets = _subnets()
    assert len(subnets) >= 5
    shared = load_config(environ={}).subnet
    for where, network in subnets:
        assert not network.overlaps(shared) or network == shared, (where, network)
    clashes = [(a, b) for a, b in itertools.combinations(subnets, 2)
               if a[0] != b[0] and a[1].overlaps(b[1])]
    assert clashes == []
