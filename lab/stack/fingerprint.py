"""Digests of what each service is built from, and of what it runs with.

`image_fingerprints`: over the files an image is built from (the staged build
context, `lab.stack.build_context.context_files`) and its build arguments; the image
carries it as its `lab.fingerprint` label, and `lab up` rebuilds an image only when
it changed. Users, passwords, ports and certificates are not in any image.

`fingerprints`: what a container is (compose labels it with this one): its image's
fingerprint and those of the services it starts from (a new DC image means a new
proxy too), the lab's settings and the compose file (ports, a health check, a
command), and the files `lab up` hands it at creation (`lab.stack.state_files`: its
certificate, the PAC, the users and passwords). `lab up` recreates exactly the
services whose fingerprint changed, and is a no-op when none did.
"""

from __future__ import annotations

import hashlib
import json

from lab.config.model import LabConfig
from lab.config.topology import SERVICES, sources
from lab.stack import state_files
from lab.stack.build_context import COMPOSE_FILE, context_files


def image_fingerprints(config: LabConfig) -> dict[str, str]:
    """service -> 16 hex digits over its build inputs and build arguments."""
    return digests(config)[0]


def fingerprints(config: LabConfig) -> dict[str, str]:
    """service -> 16 hex digits over all a container of it is made from."""
    return digests(config)[1]


def digests(config: LabConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(image fingerprints, container fingerprints), from one reading of the inputs."""
    files, env = context_files(config), config.compose_env()
    images = {}
    for service in SERVICES:
        digest = hashlib.sha256()
        for name in service.build_inputs:
            for path in sorted(p for p in files if p == name or p.startswith(f"{name}/")):
                digest.update(path.encode())
                digest.update(files[path])
        for arg in service.build_args:
            digest.update(f"{arg}={env[arg]}\n".encode())
        images[service.name] = digest.hexdigest()[:16]
    settings = json.dumps(env, sort_keys=True).encode()
    made = state_files.contents(config)
    containers = {}
    for service in SERVICES:
        digest = hashlib.sha256(settings)
        digest.update(files[COMPOSE_FILE])
        for name in sorted({service.name, *sources(service.name)}):
            digest.update(f"{name}={images[name]}\n".encode())
        for state_file in state_files.of_service(service.name):
            digest.update(f"{state_file.name} {state_file.mode:o}\n".encode())
            digest.update(made[state_file.name].encode())
        containers[service.name] = digest.hexdigest()[:16]
    return images, containers
