"""An engine on a unix socket, asked with the standard library only.

`lab.host` runs on the system's python3 (no Docker SDK) at every `make lab-up` and
`lab up`, to learn whether the engine answers and a base image is there. Each
`docker` CLI run for that costs ~60 ms of the Go binary's start, and `lab up` waits
for the answers; the socket answers in ~2 ms. An engine reached over TCP or ssh is
asked through the CLI as before (`socket_path` is None), and so is any question the
socket leaves unclear.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from lab.config.dockerhost import config_dir, docker_host, unix_socket
from lab.errors import ConfigError

#: Where the docker CLI looks for its plugins on Linux, after the configuration's
#: `cliPluginsExtraDirs` and its own `cli-plugins` (docker/cli, cli-plugins/manager).
SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                      "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def socket_path(environ: Mapping[str, str] = os.environ) -> str | None:
    """The unix socket of the engine Docker would use (DOCKER_HOST, the docker context,
    else the default), or None when it is reached another way (or the context cannot
    be read: the CLI then says why)."""
    try:
        return unix_socket(docker_host(environ))
    except ConfigError:
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
            # the status line alone; a short read only makes the answer unclear (None)
            head = conn.recv(64).split(b"\r\n", 1)[0].split()
    except OSError:
        return None
    if len(head) < 2 or not head[0].startswith(b"HTTP/") or not head[1].isdigit():
        return None
    return int(head[1])


def compose_plugin(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Compose's plugin file, as the docker CLI picks it: the first `docker-compose` in
    its plugin directories decides, and counts only if it is an executable file (one
    that is not stops the CLI too). None when there is none or it does not count: the
    CLI is asked then (`docker compose version`), and says what is wrong."""
    directory = config_dir(environ)
    try:
        extra = json.loads((directory / "config.json").read_text()).get(
            "cliPluginsExtraDirs") or []
    except (OSError, ValueError, AttributeError):
        extra = []
    extra = [d for d in extra if isinstance(d, str)] if isinstance(extra, list) else []
    for plugins in (*map(Path, extra), directory / "cli-plugins", *map(Path, SYSTEM_PLUGIN_DIRS)):
        plugin = plugins / "docker-compose"
        if plugin.exists():
            return plugin if plugin.is_file() and os.access(plugin, os.X_OK) else None
    return None
