"""A digest of what each service is built and configured from.

Compose labels each container with its service's fingerprint; `lab up`
rebuilds and recreates only the services whose fingerprint changed, and is a
no-op when none did. The inputs are the staged build context's files
(`lab.stack.build_context.context_files`: the effective lab.toml, not any one file on
disk), so a project's extra user rebuilds dc and proxy only; and the compose
file, so a changed health check or command recreates what it describes; and the
files `lab up` makes for a service (`lab.stack.state_files`: its certificate, the PAC).
"""

from __future__ import annotations

import hashlib
import json

from lab.config import topology
from lab.config.model import LabConfig
from lab.config.topology import SERVICES, sources
from lab.stack import state_files
from lab.stack.build_context import context_files


def fingerprints(config: LabConfig) -> dict[str, str]:
    """service -> 16 hex digits over the lab's settings and the build inputs of the
    service and of those it starts from (a new DC image means a new proxy too)."""
    settings = json.dumps(config.compose_env(), sort_keys=True).encode()
    files = context_files(config)
    made = state_files.contents(config)
    result = {}
    for service in SERVICES:
        digest = hashlib.sha256(settings)
        # how compose runs it (ports, health checks, command) is part of what it is
        digest.update(files.get("docker-compose.yml", b""))
        inputs = sorted({name for s in (service.name, *sources(service.name))
                         for name in topology.service(s).build_inputs})
        for name in inputs:
            for path in sorted(p for p in files if p == name or p.startswith(f"{name}/")):
                digest.update(path.encode())
                digest.update(files[path])
        for state_file in state_files.of_service(service.name):   # certificates, PAC
            digest.update(state_file.variable.encode())
            digest.update(made[state_file.variable].encode())
        result[service.name] = digest.hexdigest()[:16]
    return result
