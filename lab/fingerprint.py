"""A digest of what each service is built and configured from.

Compose labels each container with its service's fingerprint; `lab up`
rebuilds and recreates only the services whose fingerprint changed, and is a
no-op when none did.
"""

from __future__ import annotations

import hashlib
import json

from lab.config import LabConfig
from lab.topology import SERVICES


def fingerprints(config: LabConfig) -> dict[str, str]:
    """service -> 16 hex digits over the lab's settings and the service's build inputs."""
    settings = json.dumps(config.compose_env(), sort_keys=True).encode()
    result = {}
    for service in SERVICES:
        digest = hashlib.sha256(settings)
        for name in service.build_inputs:
            path = config.root / name
            files = sorted(p for p in path.rglob("*") if p.is_file()) \
                if path.is_dir() else [path]
            for file in files:
                if "__pycache__" in file.parts:
                    continue
                digest.update(str(file.relative_to(config.root)).encode())
                digest.update(file.read_bytes())
        result[service.name] = digest.hexdigest()[:16]
    return result
