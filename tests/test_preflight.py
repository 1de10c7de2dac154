"""Preflight checks: ports in use, host routes, subnets (the engine stood in for by a fake)."""

import ipaddress
import socket

import pytest

from lab.config.discovery import load_config
from lab.errors import StackError
from lab.stack.preflight import check_ports_free, check_subnet, host_routes
from lab.testing.ports import free_port
from lab.testing.side_by_side import side_by_side_env


def _port_env(lab_root, extra=1):
    """LAB_PORT_* for every port, all distinct and free, plus `extra` more distinct ports."""
    names = list(load_config(lab_root, environ={}).ports)
    ports: list[int] = []
    while len(ports) < len(names) + extra:
        port = free_port()
        if port not in ports:
            ports.append(port)
    env = {f"LAB_PORT_{n.upper()}": str(p) for n, p in zip(names, ports, strict=False)}
    return env, ports[len(names):]


def test_port_in_use_names_the_variable(lab_root):
    env, (port,) = _port_env(lab_root)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        env["LAB_PORT_PROXY_BASIC"] = str(port)
        config = load_config(lab_root, environ=env)
        with pytest.raises(StackError, match=f"port {port}/TCP .*LAB_PORT_PROXY_BASIC"):
            check_ports_free(config, {})


ROUTE_TABLE = """\
Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def test_host_routes_parse_the_kernels_table_without_the_default_route(tmp_path):
    (tmp_path / "route").write_text(ROUTE_TABLE)
    assert host_routes(tmp_path / "route") == [
        ("eth0", ipaddress.IPv4Network("10.0.0.0/24")),
        ("docker0", ipaddress.IPv4Network("172.17.0.0/16"))]
    assert host_routes(tmp_path / "missing") == []


def test_time_wait_connections_do_not_count_as_in_use(lab_root):
    """Closing the server side first leaves the port's connection in TIME_WAIT."""
    env, _ = _port_env(lab_root, extra=0)
    port = int(env["LAB_PORT_WEB"])
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(1)
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()                  # the server side closes first: TIME_WAIT here
        client.close()
    check_ports_free(load_config(lab_root, environ=env), {})


def test_side_by_side_ports_are_distinct(lab_root):
    for _ in range(50):
        env = side_by_side_env("other", "10.77.0.0/24", root=lab_root, base={})
        ports = [v for k, v in env.items() if k.startswith("LAB_PORT_")]
        assert len(set(ports)) == len(ports)


class FakeEngine:
    """The networks a Docker engine would list, by name."""

    def __init__(self, networks):
        self.networks = {name: [ipaddress.ip_network(s) for s in subnets]
                         for name, subnets in networks.items()}

    def subnets(self):
        return self.networks


def test_subnet_overlapping_another_network_is_refused(lab_root):
    config = load_config(lab_root, environ={"LAB_SUBNET": "10.77.0.0/24"})
    with pytest.raises(StackError, match="overlaps docker network 'other_net'.*LAB_SUBNET"):
        check_subnet(config, FakeEngine({"other_net": ["10.77.0.0/16"]}))


def test_subnet_change_of_an_existing_lab_is_refused_not_applied(lab_root):
    """Bug: a new LAB_SUBNET on a lab that was up recreated everything, failed, and the
    clean-up removed the healthy lab. Now: refused before anything is touched."""
    config = load_config(lab_root, environ={"LAB_SUBNET": "10.78.0.0/24"})
    with pytest.raises(StackError, match="cannot change subnet.*lab down"):
        check_subnet(config, FakeEngine({"lab_lab": ["172.29.53.0/24"]}))


def test_own_network_with_the_same_subnet_passes(lab_root):
    config = load_config(lab_root, environ={})
    check_subnet(config, FakeEngine({"lab_lab": [str(config.subnet)], "bridge": ["10.99.0.0/16"]}))


def test_twenty_processes_picking_ports_at_once_never_share_one(tmp_path):
    """pytest-xdist workers start private labs side by side: each one's ports are its own
    while it lives, though nothing listens on them yet."""
    import subprocess
    import sys

    script = ("import sys; from lab.testing.ports import free_port, PORT_RANGE\n"
              "ports = [free_port() for _ in range(15)]\n"
              "assert all(p in PORT_RANGE for p in ports)\n"
              "print(*ports, flush=True); sys.stdin.read()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(20)]
    try:
        picked = [proc.stdout.readline().split() for proc in procs]
    finally:
        for proc in procs:
            proc.stdin.close()
            proc.wait(timeout=30)
            proc.stdout.close()
    ports = [port for some in picked for port in some]
    assert len(ports) == 20 * 15 and len(set(ports)) == len(ports)
