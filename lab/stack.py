"""The lab's compose project: bring it up, take it down, and say where everything is.

`Stack.endpoints()` is the one source of truth about a running lab: the CLI's
`status --json`, the pytest fixtures and the trial test cases all read it.
Ports come from the running containers (what docker actually published),
credentials from lab.toml.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import host
from lab.config import DOMAIN, HTPASSWD, PROXY_CONTAINER_PORTS, LabConfig, load_config

Say = Callable[[str], None]

SERVICES = ("dns", "dc", "proxy", "web")
#: Files whose content each image is built from; a change means rebuild + recreate.
BUILD_INPUTS = {
    "dns": ["images/dns"],
    "dc": ["images/dc", "lab.toml", "lab/__init__.py", "lab/config.py"],
    # the proxy joins the domain at start: a new DC means a new proxy too
    "proxy": ["images/proxy", "images/dc", "lab.toml", "lab/__init__.py", "lab/config.py",
              "lab/render.py"],
    "web": ["images/web", "lab/__init__.py", "lab/mockweb.py", "lab/tidy.py", "lab/tls.py"],
}
#: Container port of each published endpoint, by lab.toml port name.
CONTAINER_PORTS = {
    **{f"proxy_{name}": ("proxy", port) for name, port in PROXY_CONTAINER_PORTS.items()},
    "dns": ("dns", 53), "ldap": ("dc", 389), "kerberos": ("dc", 88),
    "web": ("web", 80), "web_https": ("web", 443),
}
UDP_TOO = {"dns", "kerberos"}
HEALTH_TIMEOUT = 120.0
LOG_TAIL_LINES = 30


class StackError(RuntimeError):
    """The lab could not be brought up or read; the message names the fix."""


class LabNotRunning(StackError):
    """No healthy lab answers for this project."""


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str            # running, exited, created, ...
    health: str           # healthy, starting, unhealthy, or "" without a check
    fingerprint: str
    published: dict[int, int]   # container port -> host port

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health == "healthy"

    @property
    def broken(self) -> bool:
        """Will not get healthy by waiting: it needs a fresh start."""
        return self.health == "unhealthy" or self.state in ("exited", "dead")


def _say_nothing(_message: str) -> None:
    pass


class Stack:
    """One compose project of the lab (the name comes from lab.toml / LAB_PROJECT)."""

    def __init__(self, config: LabConfig | None = None, base_image: str | None = None):
        self.config = config or load_config()
        self.base_image = base_image

    # -- compose plumbing -------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.config.compose_env()}
        env["LAB_BASE_IMAGE"] = self.base_image or host.UPSTREAM_BASE_IMAGE
        for service, fingerprint in self.fingerprints.items():
            env[f"LAB_FINGERPRINT_{service.upper()}"] = fingerprint
        return env

    def compose(self, *args: str, capture: bool = True, timeout: float = 900,
                check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-f", str(self.config.root / "docker-compose.yml"),
               "-p", self.config.project, *args]
        try:
            proc = subprocess.run(cmd, env=self._env(), text=True, timeout=timeout,
                                  capture_output=capture, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise StackError("docker is not installed: run `make lab-up` (installs it "
                             "on Debian as root) or install Docker yourself") from None
        if check and proc.returncode != 0:
            output = ((proc.stdout or "") + (proc.stderr or "")).strip()
            tail = "\n".join(output.splitlines()[-20:])
            raise StackError(f"docker compose {args[0]} failed:\n{tail}")
        return proc

    @functools.cached_property
    def fingerprints(self) -> dict[str, str]:
        """A digest of each service's build inputs and of the lab's settings (hashed
        once per Stack: every compose call, health polls included, passes them on)."""
        settings = json.dumps(self.config.compose_env(), sort_keys=True).encode()
        result = {}
        for service, inputs in BUILD_INPUTS.items():
            digest = hashlib.sha256(settings)
            for name in inputs:
                path = self.config.root / name
                files = sorted(p for p in path.rglob("*") if p.is_file()) \
                    if path.is_dir() else [path]
                for file in files:
                    if "__pycache__" in file.parts:
                        continue
                    digest.update(str(file.relative_to(self.config.root)).encode())
                    digest.update(file.read_bytes())
            result[service] = digest.hexdigest()[:16]
        return result

    def states(self) -> dict[str, ServiceState]:
        """What docker says about this project's containers, by service."""
        if not host.engine_answers():
            raise LabNotRunning("no Docker engine answers; run `make lab-up`")
        proc = self.compose("ps", "--all", "--format", "json", timeout=30)
        text = proc.stdout.strip()
        rows = json.loads(text) if text.startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
        states = {}
        for row in rows:
            labels = dict(item.split("=", 1) for item in (row.get("Labels") or "").split(",")
                          if "=" in item)
            published = {p["TargetPort"]: p["PublishedPort"]
                         for p in row.get("Publishers") or [] if p.get("PublishedPort")}
            states[row["Service"]] = ServiceState(
                row["Service"], row.get("State", ""), row.get("Health", ""),
                labels.get("lab.fingerprint", ""), published)
        return states

    def is_up(self) -> bool:
        try:
            states = self.states()
        except StackError:
            return False
        return all(s in states and states[s].healthy for s in SERVICES)

    def is_current(self, states: dict[str, ServiceState]) -> bool:
        """All services healthy and built from what is in the tree now."""
        wanted = self.fingerprints
        return all(s in states and states[s].healthy and states[s].fingerprint == wanted[s]
                   for s in SERVICES)

    # -- preflight ----------------------------------------------------------

    def check_ports_free(self, states: dict[str, ServiceState]) -> None:
        """Every port we publish is free on 127.0.0.1 (or already ours)."""
        ours = {port for s in states.values() for port in s.published.values()}
        for name, port in self.config.ports.items():
            if port in ours:
                continue
            kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if name in UDP_TOO else [])
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as sock:
                    if kind == socket.SOCK_STREAM:
                        # as docker-proxy binds: connections lingering in TIME_WAIT
                        # (e.g. right after a test run) must not count as "in use"
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        sock.bind(("127.0.0.1", port))
                        if kind == socket.SOCK_STREAM:
                            sock.listen(1)
                    except OSError:
                        proto = "TCP" if kind == socket.SOCK_STREAM else "UDP"
                        raise StackError(
                            f"port {port}/{proto} ({name}) on 127.0.0.1 is in use by another "
                            f"program: stop it, or set LAB_PORT_{name.upper()}=<free port> "
                            "in the environment or in .env") from None

    def check_subnet_free(self) -> None:
        """The lab subnet overlaps no other docker network and no host route."""
        subnet = self.config.subnet
        own = f"{self.config.project}_lab"
        names = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"],
                               capture_output=True, text=True, timeout=30).stdout.split()
        others = [n for n in names if n != own]
        if others:
            proc = subprocess.run(["docker", "network", "inspect", *others],
                                  capture_output=True, text=True, timeout=30)
            for net in json.loads(proc.stdout or "[]"):
                for cfg in (net.get("IPAM") or {}).get("Config") or []:
                    other = cfg.get("Subnet", "")
                    if other and ":" not in other and subnet.overlaps(ipaddress.ip_network(other)):
                        raise StackError(
                            f"the lab subnet {subnet} overlaps docker network {net['Name']!r} "
                            f"({other}): set LAB_SUBNET to a free range (e.g. 10.77.0.0/24) "
                            "in the environment or in .env")
        for iface, network in _host_routes():
            if iface.startswith(("br-", "docker", "veth")):
                continue
            if subnet.overlaps(network):
                raise StackError(f"the lab subnet {subnet} overlaps the host's route to "
                                 f"{network} on {iface}: set LAB_SUBNET to a free range "
                                 "in the environment or in .env")

    # -- lifecycle ----------------------------------------------------------

    def up(self, say: Say = _say_nothing, timeout: float = HEALTH_TIMEOUT) -> dict:
        """Bring the lab up (a fast no-op if it is up and current); return endpoints.

        On any error or Ctrl-C after containers were started, the project is
        taken down again, so nothing is left half-running.
        """
        self.base_image = host.prepare(say)
        states = self.states()
        if self.is_current(states):
            say("lab is already up")
            return self.endpoints(states)
        self.check_ports_free(states)
        if not states:
            self.check_subnet_free()
        ensure_web_certificate(self.config)
        say("building images (cached layers make this quick after the first time)")
        started = time.monotonic()
        self.compose("build", timeout=1800)
        say(f"images ready ({time.monotonic() - started:.1f} s); starting containers")
        broken = sorted(name for name, state in states.items() if state.broken)
        try:
            if broken:
                # e.g. a proxy whose DC was recreated under it: only a fresh start
                # (a new domain join, the new keytab) mends it
                say(f"recreating {', '.join(broken)} (not healthy)")
                self.compose("up", "--detach", "--force-recreate", "--no-deps", *broken,
                             timeout=300)
            self.compose("up", "--detach", "--remove-orphans", timeout=300)
            states = self.wait_healthy(say, timeout)
        except BaseException as exc:
            # the broken services' logs first: down removes them
            diagnosis = self.diagnose() if isinstance(exc, StackError) else None
            say("start failed: removing the lab's containers, network and volumes")
            self.down()
            if diagnosis:
                raise StackError(diagnosis) from None
            raise
        return self.endpoints(states)

    def diagnose(self) -> str | None:
        """Which services are broken and their last log lines, or None."""
        broken = [state for state in self.states().values() if state.broken]
        if not broken:
            return None
        return "\n".join(f"service {state.service} is {state.health or state.state}; its last "
                         f"log lines:\n{self.log_tail(state.service)}" for state in broken)

    def wait_healthy(self, say: Say, timeout: float) -> dict[str, ServiceState]:
        """Block until every service is healthy; fail with its logs if one never is."""
        started = time.monotonic()
        deadline = started + timeout
        reported: set[str] = set()
        while True:
            states = self.states()
            for service in SERVICES:
                state = states.get(service)
                if state is None:
                    continue
                if state.healthy and service not in reported:
                    reported.add(service)
                    say(f"  {service:<6} healthy after {time.monotonic() - started:.1f} s")
                if state.broken:
                    raise StackError(self.diagnose() or f"service {service} failed")
            if reported == set(SERVICES):
                return states
            if time.monotonic() > deadline:
                waiting = sorted(set(SERVICES) - reported)
                tails = "\n".join(f"--- {s} ---\n{self.log_tail(s)}" for s in waiting)
                raise StackError(f"not healthy after {timeout:.0f} s: {', '.join(waiting)}"
                                 f"\n{tails}")
            time.sleep(0.25)  # docker has no push for health: poll, bounded by the deadline

    def log_tail(self, service: str, lines: int = LOG_TAIL_LINES) -> str:
        proc = self.compose("logs", "--no-color", "--tail", str(lines), service, check=False)
        return (proc.stdout + proc.stderr).strip() or "(no output)"

    def down(self, say: Say = _say_nothing) -> None:
        """Remove every container, network and volume of this project (images stay)."""
        if not host.engine_answers():
            say("no Docker engine answers: nothing to take down")
            return
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "3", timeout=120)

    def logs(self, service: str | None = None, follow: bool = False) -> int:
        if service is not None and service not in SERVICES:
            raise StackError(f"no service {service!r}; the lab's services are: "
                             + ", ".join(SERVICES))
        args = ["logs", "--no-color"] + (["--follow"] if follow else [])
        return self.compose(*args, *([service] if service else []),
                            capture=False, check=False, timeout=10 ** 6).returncode

    # -- endpoints ------------------------------------------------------------

    def endpoints(self, states: dict[str, ServiceState] | None = None) -> dict:
        """Where everything is, as seen from this host; raises LabNotRunning."""
        states = self.states() if states is None else states
        missing = [s for s in SERVICES if s not in states or not states[s].healthy]
        if missing:
            if not states:
                raise LabNotRunning(f"lab {self.config.project!r} is not running: "
                                    "run `make lab-up` or `lab up`")
            raise LabNotRunning(f"lab {self.config.project!r} is not healthy "
                                f"({', '.join(missing)}): see `lab status`, `lab logs`")
        return build_endpoints(self.config, {
            name: states[service].published.get(port)
            for name, (service, port) in CONTAINER_PORTS.items()})


def build_endpoints(config: LabConfig, ports: dict[str, int | None]) -> dict:
    """The `lab status --json` document, from config and published ports."""
    loopback = "127.0.0.1"

    def at(name: str) -> dict:
        if ports.get(name) is None:
            raise LabNotRunning(f"port {name} is not published; recreate the lab "
                                "(`lab down && lab up`)")
        return {"host": loopback, "port": ports[name]}

    def with_user(name: str, user) -> dict:
        return {**at(name), "username": user.name, "password": user.password}

    denied = config.pick_user(DOMAIN, not_in_group=config.proxy_group)

    return {
        "project": config.project,
        "proxy": {
            "noauth": at("proxy_noauth"),
            "basic": with_user("proxy_basic", config.pick_user(HTPASSWD)),
            "ldap": with_user("proxy_ldap", config.pick_user(DOMAIN)),
            # Kerberos asks for HTTP/<host>: connect to `address`, name the proxy `host`
            "negotiate": {**with_user("proxy_negotiate", config.pick_user(DOMAIN)),
                          "host": config.proxy_fqdn, "address": loopback},
            "ntlm": with_user("proxy_ntlm", config.pick_user(DOMAIN)),
            "group": {**with_user("proxy_group",
                                  config.pick_user(DOMAIN, in_group=config.proxy_group)),
                      # a valid domain user the group rule refuses
                      "denied_username": denied.name, "denied_password": denied.password},
        },
        "dns": at("dns"),
        "dc": {
            "ldap": at("ldap"),
            "kerberos": at("kerberos"),
            "realm": config.realm,
            "domain": config.domain,
            "workgroup": config.workgroup,
            "hostname": config.dc_fqdn,
            "base_dn": config.base_dn,
        },
        "web": {
            "url": f"http://{loopback}:{ports['web']}/",
            "proxy_url": f"http://web.{config.domain}/",
            "https_url": f"https://localhost:{ports['web_https']}/",
            "https_proxy_url": f"https://web.{config.domain}/",
            "ca_cert": str(config.state_dir / WEB_CA_FILE),
        },
        # Bind in-process test servers here to fetch them through the proxy.
        "host_interface": config.gateway,
    }


WEB_TLS_FILE = "web-tls.pem"   # key + certificate, mounted into the web container
WEB_CA_FILE = "web-ca.pem"     # the certificate alone: what clients trust


def ensure_web_certificate(config: LabConfig) -> None:
    """Make the web service's self-signed certificate once per project (kept across
    `lab down`, so a client that trusts it keeps working)."""
    from lab.tls import make_self_signed

    tls_file = config.state_dir / WEB_TLS_FILE
    if tls_file.is_file() and (config.state_dir / WEB_CA_FILE).is_file():
        return
    config.state_dir.mkdir(parents=True, exist_ok=True)
    cert = make_self_signed((f"web.{config.domain}", "web", "localhost"),
                            ("127.0.0.1", config.address("web")), days=3650)
    for name, data in ((WEB_TLS_FILE, cert.combined_pem), (WEB_CA_FILE, cert.cert_pem)):
        partial = config.state_dir / (name + ".partial")
        partial.write_bytes(data)
        partial.replace(config.state_dir / name)   # never a half-written file


def _host_routes() -> list[tuple[str, ipaddress.IPv4Network]]:
    """(interface, network) of the host's IPv4 routes, default route excluded."""
    routes = []
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
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


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (DNS and Kerberos publish both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def side_by_side_env(project: str, subnet: str, root: Path | None = None,
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for another lab next to the default one: its own compose project,
    subnet and free ports (what the tests and `make bench` use)."""
    env = dict(os.environ if base is None else base, LAB_PROJECT=project, LAB_SUBNET=subnet)
    if root is not None:
        env["LAB_ROOT"] = str(root)
    taken: set[int] = set()
    for name in load_config(root, environ=env).ports:
        port = free_port()
        while port in taken:      # a released port can come back on the next pick
            port = free_port()
        taken.add(port)
        env[f"LAB_PORT_{name.upper()}"] = str(port)
    return env
