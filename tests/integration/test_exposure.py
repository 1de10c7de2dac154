"""Nothing gets through the lab that could not get through on loopback: every proxy
port and SOCKS reach only the lab's services and, of this host, only the test-server
ports of `[network] host_ports`; the fault API relays only into the lab network.
Servers here listen on this host's own addresses; every request is a real client's
(curl) and every refusal is checked at the server too: it saw nothing."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lab.clients.ad import kinit
from lab.clients.curl import proxy_args
from lab.faults.client import FaultAPIError, FaultClient
from lab.testing.ports import PORT_RANGE, free_port, host_server_ports, release_port
from tests.integration.helpers import other_host_address

pytestmark = pytest.mark.timeout(120)


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):       # noqa: N802 (http.server's name)
        self.server.seen.append(self.path)
        body = b"reached\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(address, port) -> a running HTTP server there that records each request."""
    servers = []

    def start(address: str, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((address, port), _Recorder)
        server.seen = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def ticket(lab_endpoints, tmp_path_factory):
    proxy, kdc = lab_endpoints.proxy["negotiate"], lab_endpoints.dc.kerberos
    return kinit(proxy.username, proxy.password, lab_endpoints.dc.realm, kdc.host, kdc.port,
                 directory=tmp_path_factory.mktemp("ticket"))


def _curl(*args: str, env=None) -> tuple[int, str]:
    """(curl's exit code, the status it saw: the origin's, else the proxy's answer to
    CONNECT, else '000')."""
    proc = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_connect}",
                           "--max-time", "10", *args], capture_output=True, text=True,
                          timeout=30, env=env)
    origin, tunnel = proc.stdout.split()
    return proc.returncode, origin if origin != "000" else tunnel


def _through_every_port(lab_endpoints, ticket, url: str) -> dict[str, tuple[int, str]]:
    got = {}
    for name, proxy in lab_endpoints.proxy.items():
        if name == "socks":                     # not an HTTP proxy: see _socks
            continue
        args = proxy_args(proxy, workgroup=lab_endpoints.dc.workgroup)
        env = {**ticket.env, "PATH": "/usr/bin:/bin"} if name == "negotiate" else None
        got[name] = _curl(*args, url, env=env)
        if name == "noauth":                    # through a tunnel too
            got["noauth CONNECT"] = _curl("-p", *args, url, env=env)
        if name == "bump":
            # TLS inspection answers CONNECT itself, then gives its 403 inside the
            # re-signed TLS (squid's ssl-bump), without a connection onwards
            got["bump CONNECT"] = _curl("-k", *args, url.replace("http:", "https:", 1))
    return got


def _socks(lab_config, lab_endpoints, url: str) -> tuple[int, str]:
    socks = lab_endpoints.proxy["socks"]
    return _curl("-x", f"socks5h://{socks.username}:{socks.password}@{socks.host}:{socks.port}",
                 url)


def test_a_server_on_another_address_of_this_host_is_out_of_reach(
        lab_config, lab_endpoints, ticket, serve):
    address = other_host_address(lab_config.subnet)
    server = serve(address, 0)
    url = f"http://{address}:{server.server_address[1]}/{uuid.uuid4().hex}"
    assert _curl(url)[1] == "200"                         # it is there, directly
    server.seen.clear()
    got = _through_every_port(lab_endpoints, ticket, url)
    assert all(status == "403" for _, status in got.values()), got
    assert _socks(lab_config, lab_endpoints, url)[0] == 97       # SOCKS: not allowed
    assert server.seen == []


def test_of_this_host_only_the_test_server_ports_are_in_reach(
        lab_config, lab_endpoints, ticket, serve):
    gateway = lab_endpoints.host_interface
    outside = free_port(PORT_RANGE, gateway)
    inside, _spare = host_server_ports(lab_endpoints)
    try:
        refused, allowed = serve(gateway, outside), serve(gateway, inside)
        token = uuid.uuid4().hex
        got = _through_every_port(lab_endpoints, ticket, f"http://{gateway}:{outside}/{token}")
        assert all(status == "403" for _, status in got.values()), got
        assert _socks(lab_config, lab_endpoints, f"http://{gateway}:{outside}/{token}")[0] == 97
        assert refused.seen == []
        url = f"http://{gateway}:{inside}/{token}"
        assert _curl(*proxy_args(lab_endpoints.proxy["noauth"]), url)[1] == "200"
        assert _socks(lab_config, lab_endpoints, url) == (0, "200")
        assert allowed.seen == [f"/{token}", f"/{token}"]
    finally:
        for port in (outside, inside, _spare):
            release_port(port)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:3128/",                 # the proxy container's own loopback
    "http://127.0.0.2:8080/",                 # (a bare "localhost" is a lab name: append_domain)
    "http://[::1]:3128/",
])
def test_loopback_is_refused(lab_endpoints, url):
    for name in ("noauth", "bump"):
        exit_code, status = _curl(*proxy_args(lab_endpoints.proxy[name]), url)
        assert status == "403", (name, exit_code, status)


def test_the_fault_api_relays_only_into_the_lab_network(lab_endpoints, lab_config):
    api = FaultClient(f"http://{lab_endpoints.faults_api.host}:{lab_endpoints.faults_api.port}")
    name = f"exposure-{uuid.uuid4().hex[:8]}"
    for upstream in ("169.254.169.254:80", "127.0.0.1:2375", f"{_gateway_lan()}:22"):
        with pytest.raises(FaultAPIError) as refused:
            api.create_proxy(name, upstream, listen="0.0.0.0:0", enabled=False)
        assert refused.value.status == 403 and str(lab_config.subnet) in str(refused.value)
    made = api.create_proxy(name, f"{lab_config.address('web')}:80", listen="0.0.0.0:0",
                            enabled=False)
    try:
        assert made["upstream"] == f"{lab_config.address('web')}:80"
        assert name in json.loads(json.dumps(api.proxies()))
    finally:
        api.delete_proxy(name)


def _gateway_lan() -> str:
    """This host's default gateway: the first stop on its LAN."""
    out = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True,
                         text=True, timeout=30, check=True).stdout.split()
    return out[out.index("via") + 1] if "via" in out else "10.0.0.1"


def test_no_password_is_in_an_image_a_container_record_or_a_process_list(lab_stack,
                                                                         lab_config):
    """Users and passwords reach dc and proxy when they are created, as a file only root
    reads: never a build argument (`docker history`), an environment variable or label
    (`docker inspect`), or a command line (`ps`, which the host sees too)."""
    secrets = [lab_config.admin_password, *(user.password for user in lab_config.users)]
    project = lab_config.project
    containers = [f"{project}-{service}-1" for service in ("dc", "proxy")]
    seen = {}
    for image in (f"{project}-dc", f"{project}-proxy"):
        seen[f"docker history {image}"] = subprocess.run(
            ["docker", "history", "--no-trunc", image], capture_output=True, text=True,
            timeout=30, check=True).stdout
        seen[f"docker image inspect {image}"] = subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, text=True,
            timeout=30, check=True).stdout
    seen["docker inspect"] = subprocess.run(["docker", "inspect", *containers],
                                            capture_output=True, text=True, timeout=30,
                                            check=True).stdout
    for container in containers:        # their processes, as this host's `ps` shows them
        seen[f"docker top {container}"] = subprocess.run(
            ["docker", "top", container, "-o", "pid,args"], capture_output=True, text=True,
            timeout=30, check=True).stdout
        mode = subprocess.run(["docker", "exec", container, "stat", "-c", "%a %U",
                               "/etc/lab/lab.toml"], capture_output=True, text=True,
                              timeout=30, check=True).stdout.split()
        assert mode == ["400", "root"], (container, mode)
    leaks = [(where, secret[:3] + "…") for where, text in seen.items()
             for secret in secrets if secret in text]
    assert not leaks, leaks
