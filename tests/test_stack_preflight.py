"""Preflight checks that need no Docker: ports in use, host routes."""

import socket

import pytest

from lab.config import load_config
from lab.stack import Stack, StackError, _host_routes, free_port


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
            Stack(config).check_ports_free({})


def test_host_routes_parse():
    for iface, network in _host_routes():
        assert iface and network.prefixlen > 0


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
    Stack(load_config(lab_root, environ=env)).check_ports_free({})


def test_side_by_side_ports_are_distinct(lab_root):
    from lab.stack import side_by_side_env

    for _ in range(50):
        env = side_by_side_env("other", "10.77.0.0/24", root=lab_root, base={})
        ports = [v for k, v in env.items() if k.startswith("LAB_PORT_")]
        assert len(set(ports)) == len(ports)
