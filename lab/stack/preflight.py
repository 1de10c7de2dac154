"""Checks made before `lab up` touches anything: each failure is one line naming the fix.

- every port the lab publishes is free on LAB_BIND (or already the lab's own);
- the lab's subnet overlaps no other docker network and no host route;
With a remote engine (lab.config.dockerhost) the host checks are the engine's to make:
this machine's ports and routes say nothing about it.
- a running lab is not asked to change what cannot change under it (its subnet).
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

from lab.config.model import LabConfig
from lab.config.topology import PORTS_BY_NAME
from lab.errors import StackError
from lab.stack.engine import Engine, ServiceState


def network_name(config: LabConfig) -> str:
    return f"{config.project}_lab"


def check_admission(config: LabConfig) -> None:
    """Ports published beyond loopback need LAB_ALLOW: the lab's proxies and its
    domain's passwords are for its own clients, not for whoever reaches the network."""
    if config.published_beyond_loopback and not config.allow:
        raise StackError(f"LAB_BIND={config.bind} publishes the lab beyond this machine: set "
                         "LAB_ALLOW to the client networks to let in (CIDRs, e.g. "
                         "LAB_ALLOW=10.0.0.0/24); the engine's own host and the lab are "
                         "always let in")


def check_ports_free(config: LabConfig, states: dict[str, ServiceState]) -> None:
    """Every port we publish is free on LAB_BIND (or already ours)."""
    if _remote(config):
        return
    ours = {port for s in states.values() for port in s.published.values()}
    for name, port in config.ports.items():
        if port in ours:
            continue
        kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if PORTS_BY_NAME[name].udp else [])
        for kind in kinds:
            with socket.socket(socket.AF_INET, kind) as sock:
                if kind == socket.SOCK_STREAM:
                    # as docker-proxy binds: connections lingering in TIME_WAIT
                    # (e.g. right after a test run) must not count as "in use"
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((config.bind, port))
                    if kind == socket.SOCK_STREAM:
                        sock.listen(1)
                except OSError:
                    proto = "TCP" if kind == socket.SOCK_STREAM else "UDP"
                    raise StackError(
                        f"port {port}/{proto} ({name}) on {config.bind} is in use by another "
                        f"program: stop it, or set LAB_PORT_{name.upper()}=<free port> "
                        "in the environment or in .env") from None


def check_subnet(config: LabConfig, engine: Engine) -> None:
    """The subnet is free, and a lab that exists already uses this same subnet."""
    subnet = config.subnet
    own = network_name(config)
    for name, subnets in engine.subnets().items():
        if name == own:
            if subnets and subnet not in subnets:
                raise StackError(
                    f"lab {config.project!r} exists with subnet {subnets[0]}, and the "
                    f"configuration now says {subnet}: a running lab cannot change subnet; "
                    "run `lab down` first, then `lab up`")
            continue
        for other in subnets:
            if subnet.overlaps(other):
                raise StackError(
                    f"the lab subnet {subnet} overlaps docker network {name!r} ({other}): "
                    "set LAB_SUBNET to a free range (e.g. 10.77.0.0/24) in the environment "
                    "or in .env")
    for iface, network in ([] if _remote(config) else host_routes()):
        if iface.startswith(("br-", "docker", "veth")):
            continue
        if subnet.overlaps(network):
            raise StackError(f"the lab subnet {subnet} overlaps the host's route to {network} "
                             f"on {iface}: set LAB_SUBNET to a free range in the environment "
                             "or in .env")


def _remote(config: LabConfig) -> bool:
    from lab.config.dockerhost import engine_address

    return engine_address(config.docker_host) is not None


def host_routes(table: Path = Path("/proc/net/route")) -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, network) of the host's IPv4 routes, default route excluded."""
    routes = []
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return routes
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = socket.inet_ntoa(int(fields[1], 16).to_bytes(4, "little"))
        mask = socket.inet_ntoa(int(fields[7], 16).to_bytes(4, "little"))
        network = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if network.prefixlen:
            routes.append((fields[0], network))
    return routes
