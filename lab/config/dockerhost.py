"""Which Docker engine the lab runs on, and where its published ports are.

Docker's own conventions decide the engine: `DOCKER_HOST`, else the docker
context (`DOCKER_CONTEXT`, else `currentContext` in `~/.docker/config.json`; the
context's `Endpoints.docker.Host`), else the local socket. The Docker SDK reads
only `DOCKER_HOST`, so a context is resolved here and handed to both the SDK and
compose, which then always talk to the same engine.

Ports are published on `LAB_BIND` (default 127.0.0.1) of the ENGINE's machine.
Clients on this machine reach them at: `LAB_BIND`, unless it is 0.0.0.0 (then
127.0.0.1 for a local engine, the engine's host for a remote one). A remote engine
with the default 127.0.0.1 would publish where nobody here can reach: refused with
one line naming the fix.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from lab.errors import ConfigError

LOOPBACK = "127.0.0.1"
ANY = "0.0.0.0"


#: Where dockerd listens when nothing says otherwise (Docker's own default).
DEFAULT_SOCKET = "/var/run/docker.sock"


def config_dir(environ: Mapping[str, str]) -> Path:
    """Docker's client configuration directory: DOCKER_CONFIG, else ~/.docker."""
    return Path(environ.get("DOCKER_CONFIG") or
                Path(environ.get("HOME", "~")).expanduser() / ".docker")


def docker_host(environ: Mapping[str, str]) -> str | None:
    """The engine's URL as Docker would pick it; None for the local default socket."""
    if environ.get("DOCKER_HOST"):
        return environ["DOCKER_HOST"]
    directory = config_dir(environ)
    context = environ.get("DOCKER_CONTEXT")
    if not context:
        try:
            context = json.loads((directory / "config.json").read_text()).get(
                "currentContext")
        except (OSError, ValueError):
            context = None
    if not context or context == "default":
        return None
    meta = directory / "contexts" / "meta" / hashlib.sha256(context.encode()).hexdigest()
    try:
        return json.loads((meta / "meta.json").read_text())["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"docker context {context!r} is not readable in {directory}: "
                          "`docker context ls` shows the ones that exist") from None


def unix_socket(host: str | None) -> str | None:
    """The socket path of an engine on a unix socket (`docker_host`'s None: the default
    one), read as Docker reads it (all after `unix://`, empty for the default); None
    for an engine reached another way."""
    if host is None:
        return DEFAULT_SOCKET
    host = host.strip()
    if not host.startswith("unix://"):
        return None
    return host[len("unix://"):] or DEFAULT_SOCKET


def engine_address(host: str | None) -> str | None:
    """The remote engine's machine (`tcp://H:2376`, `ssh://user@H` -> H), or None
    for an engine on this machine (a unix socket, or a TCP URL to loopback)."""
    if not host or host.startswith(("unix://", "npipe://", "fd://")):
        return None
    name = urllib.parse.urlsplit(host).hostname
    if name is None:
        raise ConfigError(f"DOCKER_HOST={host!r}: expected unix:///path, tcp://host:port "
                          "or ssh://user@host")
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
    except ValueError:
        if name == "localhost":
            return None
    return name


def public_host(bind: str, remote: str | None) -> str:
    """Where clients on this machine reach the published ports."""
    if remote is None:
        return LOOPBACK if bind == ANY else bind
    if ipaddress.IPv4Address(bind).is_loopback:
        raise ConfigError(f"the Docker engine is on {remote} (DOCKER_HOST or the docker "
                          f"context), and LAB_BIND={bind} would publish on ITS loopback: "
                          f"set LAB_BIND=0.0.0.0 (or an address of {remote})")
    return remote if bind == ANY else bind
