"""The one root of everything `lab` reports to a person.

The CLI catches `LabError` and prints its message as one line (plus, where it
helps, a log tail the message carries), then exits non-zero: a `LabError`
message therefore says what went wrong AND what to do about it. Standard
library only: the images import it too (through `lab.config.model`).
"""

from __future__ import annotations


class LabError(Exception):
    """Something the user can fix; the message names the fix."""


class UsageError(LabError):
    """The command line cannot be run as given (the CLI exits 2)."""


class ConfigError(LabError, ValueError):
    """`lab.toml`, `.env` or a `LAB_*` variable is unusable."""


class HostError(LabError):
    """This host cannot run the lab as it is (no Docker engine, not root, ...)."""


class StackError(LabError):
    """The lab could not be brought up, taken down or read."""


class LabNotRunning(StackError):
    """No healthy lab answers for this project."""


class DiscoveryError(LabError, LookupError):
    """A DNS question about the domain got no usable answer."""


class KerberosError(LabError):
    """kinit (or another Kerberos step) failed; the message says why."""
