"""A local engine's API over its unix socket, with the standard library only.

`lab.host` runs on the system's python3 (no Docker SDK) at every `make lab-up` and
`lab up`, to learn whether the engine answers and a base image is there. Each
`docker` CLI run for that costs ~60 ms of the Go binary's start, and `lab up` waits
for the answers; the socket answers in ~2 ms. An engine reached another way (TCP,
ssh, a docker context) is asked through the CLI as before: `socket_path` is None.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from lab.config.dockerhost import docker_host
from lab.errors import ConfigError

#: Where dockerd listens when nothing says otherwise (Docker's own default).
DEFAULT_SOCKET = "/var/run/docker.sock"
#: Where the docker CLI finds its plugins, after ~/.docker/cli-plugins (docker's
#: cli-plugins/manager: the system directories on Linux).
SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                      "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def socket_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """The unix socket of the engine Docker would use, or None when it is reached
    another way (or the docker context cannot be read: the CLI then says why)."""
    try:
        host = docker_host(environ)
    except ConfigError:
        return None
    if host is None:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return urllib.parse.urlsplit(host).path or None
    return None


def status(path: str, api_path: str, timeout: float = 5.0) -> int | None:
    """The HTTP status of `GET api_path` at the engine on `path`; None if it did not
    answer (no socket, refused, no permission, timed out, not HTTP)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(path)
            conn.sendall(f"GET {urllib.parse.quote(api_path)} HTTP/1.0\r\n"
                         "Host: docker\r\n\r\n".encode())
            head = conn.recv(64).split(b"\r\n", 1)[0].split()
    except OSError:
        return None
    if len(head) < 2 or not head[0].startswith(b"HTTP/") or not head[1].isdigit():
        return None
    return int(head[1])


def compose_plugin(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Compose v2's plugin where the docker CLI looks for it, if it is there (Compose
    v1 was never a plugin); None when it is not (or is somewhere the CLI alone knows)."""
    config_dir = Path(environ.get("DOCKER_CONFIG") or
                      Path(environ.get("HOME", "~")).expanduser() / ".docker")
    for directory in (config_dir / "cli-plugins", *map(Path, SYSTEM_PLUGIN_DIRS)):
        plugin = directory / "docker-compose"
        if plugin.is_file() and os.access(plugin, os.X_OK):
            return plugin
    return None
