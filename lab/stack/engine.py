"""What lab asks the Docker engine, through the Docker SDK: the containers of a
project (by compose's project label), their health, the networks' subnets, the
images a project built. Compose itself is driven by `lab.stack.compose`."""

from __future__ import annotations

import ipaddress
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from lab.config.dockerhost import docker_host as docker_host_of
from lab.errors import ConfigError, LabNotRunning, StackError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
FINGERPRINT_LABEL = "lab.fingerprint"


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str                  # running, exited, created, paused, ...
    health: str                 # healthy, starting, unhealthy; "" without a health check
    fingerprint: str
    published: dict[int, int]   # container port -> host port (TCP)
    has_health_check: bool = True
    exit_code: int = 0
    container_id: str = ""
    health_test: tuple[str, ...] = ()     # the container's HEALTHCHECK test, as docker has it
    created: str = ""           # when the container was created, last started and last
    started: str = ""           # exited: `instant()`s, comparable as text
    finished: str = ""
    oom_killed: bool = False    # the kernel ended it for lack of memory

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health == "healthy"

    @property
    def unsettled(self) -> bool:
        """Running, and docker's verdict is not (or no longer) `healthy`: not judged yet
        (its first check is due), or `unhealthy` from before it was healed (a service
        back from a fault). Its own health check, run now, says which."""
        return self.state == "running" and self.health in ("starting", "unhealthy")

    @property
    def broken(self) -> bool:
        """Will not get healthy by waiting: it needs a fresh start."""
        return self.health == "unhealthy" or self.state in ("exited", "dead")

    def describe(self) -> str:
        """What `lab status` prints: the state, and health only where it means something."""
        if self.state == "running":
            return f"running ({self.health or 'no health check'})"
        if self.state in ("exited", "dead"):
            return f"{self.state} (exit code {self.exit_code})"
        return self.state


def _state_of(container) -> ServiceState:
    attrs = container.attrs
    state = attrs.get("State") or {}
    published = {}
    for spec, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = spec.partition("/")
        if proto == "tcp" and bindings:
            published[int(port)] = int(bindings[0]["HostPort"])
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    test = tuple(((attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or ())
    return ServiceState(
        service=labels.get(SERVICE_LABEL, container.name), state=state.get("Status", ""),
        health=(state.get("Health") or {}).get("Status", ""),
        fingerprint=labels.get(FINGERPRINT_LABEL, ""), published=published,
        has_health_check=bool((attrs.get("Config") or {}).get("Healthcheck")),
        exit_code=int(state.get("ExitCode") or 0), container_id=attrs.get("Id", ""),
        health_test=test, created=instant(attrs.get("Created", "")),
        started=instant(state.get("StartedAt", "")),
        finished=instant(state.get("FinishedAt", "")) if state.get("Status") == "exited" else "",
        oom_killed=bool(state.get("OOMKilled")))


def instant(text: str) -> str:
    """Docker's RFC 3339 time with the fraction at nine digits (Go trims its zeros, so
    `…07.5Z` would sort after `…07.12Z` as text)."""
    if not text:
        return ""
    whole, _, fraction = text.removesuffix("Z").partition(".")
    return f"{whole}.{fraction[:9].ljust(9, '0')}Z"


def epoch(moment: str) -> float | None:
    """An `instant()` as seconds since the epoch, its fraction kept (the engine's `since`)."""
    if not moment:
        return None
    from datetime import datetime

    whole, _, fraction = moment.removesuffix("Z").partition(".")
    try:
        seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    except ValueError:
        return None
    return seconds + float(f"0.{fraction or 0}")


def _ssh_errors() -> tuple[type[Exception], ...]:
    """paramiko's failures (a channel refused, the connection lost), when it is loaded:
    over ssh:// they stand for the engine's connection errors."""
    paramiko = sys.modules.get("paramiko")
    return (paramiko.SSHException,) if paramiko is not None else ()


def leave_out_unused_ssh_transport() -> None:
    """Keep paramiko out unless the engine is reached over SSH: the Docker SDK imports
    it (its ssh:// transport) as soon as it is imported, and with what paramiko imports
    that is ~0.35 s of every `lab` command. Without it the SDK leaves that transport
    out; compose's CLI has its own."""
    if "docker" in sys.modules or "paramiko" in sys.modules:
        return
    try:
        host = docker_host_of(os.environ) or ""
    except ConfigError:
        return                              # named where the engine is asked for
    if not host.startswith("ssh://"):
        sys.modules["paramiko"] = None      # `import paramiko` then fails: no ssh adapter


NO_ENGINE = ("no Docker engine answers: run `make lab-up` (it installs and starts one), "
             "or start Docker")


class Engine:
    """A Docker engine (the one `DOCKER_HOST` / the docker context names)."""

    def __init__(self, client=None, docker_host: str | None = None):
        self._given = client
        self.docker_host = docker_host      # None: DOCKER_HOST or the local socket

    @cached_property
    def client(self):
        import docker

        if self._given is not None:
            return self._given
        try:
            # an ssh:// engine through paramiko (docker[ssh]): ~/.ssh/config's user, key
            # and ProxyCommand, the agent, and known_hosts (an unknown host is refused)
            if self.docker_host:
                if self.docker_host.startswith("ssh://") and sys.modules.get(
                        "paramiko", ...) is None:
                    raise LabNotRunning(
                        f"DOCKER_HOST={self.docker_host} comes from a .env file, read after "
                        "the Docker SDK loaded without its SSH transport: export it, or "
                        "`docker context use` an ssh:// context")
                client = docker.DockerClient(base_url=self.docker_host, timeout=60)
            else:
                client = docker.from_env(timeout=60)
        except docker.errors.DockerException:
            raise LabNotRunning(NO_ENGINE) from None
        if client.api.base_url.startswith("http+docker://"):
            # a Unix socket or ssh: no HTTP proxy applies (the docker CLI's rule), and
            # requests would read the proxy variables again for every one of the
            # hundreds of requests a `lab up` makes
            client.api.trust_env = False
        return client

    @property
    def over_ssh(self) -> bool:
        """Reached through ssh (docker-py's paramiko transport): each request is a channel
        of one connection, which sshd caps (MaxSessions, 10 by default), and its streams
        cannot be cancelled. Ask such an engine one thing at a time."""
        return (self.docker_host or "").startswith("ssh://")

    def answers(self) -> bool:
        import docker

        try:
            return bool(self.client.ping())
        except (docker.errors.DockerException, LabNotRunning, OSError):
            return False

    def services(self, project: str) -> dict[str, ServiceState]:
        """Every container of the compose project, by service (stopped ones too)."""
        import docker

        states = []
        for summary in self.labelled("containers", f"{PROJECT_LABEL}={project}"):
            try:
                states.append(_state_of(self.client.containers.get(summary["Id"])))
            except docker.errors.NotFound:
                pass                # removed since the listing (a `lab down` meanwhile)
        return {s.service: s for s in states}

    def labelled(self, kind: str, label: str) -> list[dict]:
        """The engine's listing of the `containers` (stopped ones too) or `images` that
        carry `label`: summaries, with their Id and Labels. The SDK's `.list()` inspects
        each one after listing them all, and fails if another command removed one meanwhile."""
        if kind == "containers":
            return self.client.api.containers(all=True, filters={"label": label})
        return self.client.api.images(filters={"label": label})

    def output_stream(self, state: ServiceState, since: float | None = None):
        """The container's output (stdout and stderr) from `since` (seconds since the
        epoch; None: its last start), followed as it is written: an iterable of byte
        chunks with `close()`; None when the engine could not give it."""
        import docker
        import requests

        since = epoch(state.started) if since is None else since
        try:
            return self.client.api.logs(state.container_id, stream=True, follow=True,
                                        stdout=True, stderr=True,
                                        **({"since": since} if since else {}))
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return None

    def run_in(self, state: ServiceState, argv: list[str]) -> tuple[int, str] | None:
        """`argv` run in the service's container: (exit code, output); None when the
        engine could not run it (the container gone, the engine unreachable)."""
        import docker
        import requests

        try:
            result = self.client.containers.get(state.container_id).exec_run(argv)
        except (docker.errors.DockerException, requests.exceptions.RequestException,
                *_ssh_errors()):
            return None
        return result.exit_code, result.output.decode(errors="replace")

    def file_size(self, state: ServiceState, path: str) -> int | None:
        """The size of a file in the service's container, from the engine's archive API
        (a HEAD: the engine stats the file itself, ~2 ms, where a `docker exec` runs a
        process in the container, ~60 ms); None when it cannot say."""
        import base64
        import json

        import docker
        import requests

        api = self.client.api
        try:
            response = api.head(api._url("/containers/{0}/archive", state.container_id),
                                params={"path": path}, timeout=api.timeout)
            api._raise_for_status(response)
            stat = json.loads(base64.b64decode(response.headers["X-Docker-Container-Path-Stat"]))
            return int(stat["size"])
        except (docker.errors.DockerException, requests.exceptions.RequestException,
                KeyError, ValueError, TypeError, *_ssh_errors()):
            return None

    def probe(self, state: ServiceState, timeout: int = 8) -> bool:
        """Run the service's own health check now, in its container: what docker would
        conclude at its next check, without waiting for it."""
        kind, *rest = state.health_test or ("NONE",)
        if kind == "CMD-SHELL":
            cmd = ["/bin/sh", "-c", rest[0]]
        elif kind == "CMD":
            cmd = rest
        else:
            return state.state == "running"
        ran = self.run_in(state, ["timeout", str(timeout), *cmd])
        return ran is not None and ran[0] == 0

    def subnets(self) -> dict[str, list[ipaddress.IPv4Network]]:
        """IPv4 subnets of every docker network, by network name."""
        result = {}
        for network in self.client.networks.list():
            configs = (network.attrs.get("IPAM") or {}).get("Config") or []
            result[network.name] = [ipaddress.ip_network(c["Subnet"]) for c in configs
                                    if ":" not in c.get("Subnet", ":")]
        return result

    def image_fingerprint(self, name: str) -> str | None:
        """The `lab.fingerprint` label of image `name`, or None if there is no such image."""
        import docker

        try:
            image = self.client.images.get(name)
        except docker.errors.ImageNotFound:
            return None
        return (image.labels or {}).get(FINGERPRINT_LABEL)

    def prune_replaced_images(self, project: str) -> None:
        """Remove the project's dangling images (what a rebuild left without a tag)."""
        import docker

        try:
            self.client.images.prune(filters={"dangling": True,
                                              "label": f"{PROJECT_LABEL}={project}"})
        except docker.errors.APIError:
            pass                    # another prune is running: the next build does it

    def project_images(self, project: str) -> list[str]:
        """The ids of the images the compose project built."""
        return [image["Id"] for image in self.labelled("images", f"{PROJECT_LABEL}={project}")]

    def remove_project(self, project: str) -> None:
        """What `docker compose down --volumes --timeout 0` removes, without compose's
        start-up: every container of the project killed and removed at once (each
        unpublishes its ports: the fault layer's dozen take most of a second), then its
        networks and volumes. What another remover got to first is gone already; a
        refusal is a StackError."""
        import docker
        import requests

        def gone(remove, *args, **kwargs) -> None:
            try:
                remove(*args, **kwargs)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                if error.status_code != 409:      # 409: another remover is at it
                    raise

        api = self.client.api
        label = {"label": f"{PROJECT_LABEL}={project}"}
        try:
            containers = api.containers(all=True, filters=label)
            if containers:
                with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                    list(pool.map(lambda c: gone(api.remove_container, c["Id"], v=True,
                                                 force=True), containers))
            for network in api.networks(filters=label):
                gone(api.remove_network, network["Id"])
            for volume in (api.volumes(filters=label) or {}).get("Volumes") or []:
                gone(api.remove_volume, volume["Name"], force=True)
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            raise StackError(f"taking down {project}: {error}") from None

    def remove_project_images(self, project: str) -> None:
        """Remove the images the compose project built."""
        import docker

        for image_id in self.project_images(project):
            try:
                self.client.images.remove(image_id, force=True)
            except docker.errors.NotFound:
                pass                # another `lab down --all` got there first
