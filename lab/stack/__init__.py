"""A lab on a Docker engine: bringing it up, waiting for it, taking it down.

Owns the lifecycle policy (`lifecycle.Stack`), what lab asks the engine (`engine`,
through the Docker SDK) and compose (`compose`, on testcontainers), the checks
before `up` (`preflight`), rebuild digests and the build context
(`fingerprint`, `build_context`), the files `lab up` makes for containers
(`state_files`, `certs`, `pac_file`), one up/down at a time (`lock`), `lab down
--all` (`prune`), faults on whole services (`service_faults`) and the logs of what
its parts saw (`service_logs`). It may import
`lab.config`, `lab.endpoints`, `lab.host`, `lab.faults.client` and the root
modules; nothing above it.
"""

from lab.stack.engine import leave_out_unused_ssh_transport

leave_out_unused_ssh_transport()        # before anything imports the Docker SDK

# What users import (`from lab.stack import Stack`).
from lab.stack.lifecycle import Stack  # noqa: E402

__all__ = ["Stack"]
