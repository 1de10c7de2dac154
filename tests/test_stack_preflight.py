"""Preflight checks that need no Docker: ports in use, host routes."""

import socket

import pytest

from lab.config import load_config
from lab.stack import Stack, StackError, _host_routes


def _free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def test_port_in_use_names_the_variable(lab_root):
    names = list(load_config(lab_root, environ={}).ports)
    env = {f"LAB_PORT_{n.upper()}": str(p) for n, p in zip(names, _free_ports(len(names)),
                                                           strict=True)}
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        env["LAB_PORT_PROXY_BASIC"] = str(port)
        config = load_config(lab_root, environ=env)
        with pytest.raises(StackError, match=f"port {port}/TCP .*LAB_PORT_PROXY_BASIC"):
            Stack(config).check_ports_free({})


def test_host_routes_parse():
    for iface, network in _host_routes():
        assert iface and network.prefixlen > 0


def test_time_wait_connections_do_not_count_as_in_use(lab_root):
    """Closing the server side first leaves the port's connection in TIME_WAIT."""
    names = list(load_config(lab_root, environ={}).ports)
    env = {f"LAB_PORT_{n.upper()}": str(p) for n, p in zip(names, _free_ports(len(names)),
                                                           strict=True)}
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
