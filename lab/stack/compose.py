"""Compose plumbing: the lab's compose project, on testcontainers' `DockerCompose`.

`DockerCompose` runs the compose CLI and knows up, down, logs and ps; the lab
adds what it needs on top: its project name (`-p`), the environment that
carries `lab.toml` into the compose file, a bound on every call, and failures
as `StackError` with compose's own last lines. Compose runs in its own session:
a Ctrl-C at the terminal reaches `lab` alone, which decides what to stop (the
clean-up after an interrupted `lab up` must not be interrupted in turn).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from testcontainers.compose import DockerCompose

from lab.commands import Background, run_command
from lab.errors import StackError

DOCKER_MISSING = ("docker is not installed: run `make lab-up` (it installs it on Debian as "
                  "root) or install Docker yourself")


@dataclass
class LabCompose(DockerCompose):
    project: str = "lab"
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900
    #: Compose's plugin file, run on its own (`docker-compose -f ... up`, as compose runs
    #: standalone) instead of through `docker compose`: the docker CLI's start and its
    #: question to the plugin cost ~65 ms a call, before compose starts
    plugin: str | None = None

    @cached_property
    def compose_command_property(self) -> list[str]:
        if not self.plugin:
            return [*super().compose_command_property, "-p", self.project]
        files = [arg for name in self.compose_file_name or () for arg in ("-f", name)]
        return [self.plugin, *files, "-p", self.project]

    def _run_command(self, cmd, context=None) -> subprocess.CompletedProcess:
        """Every compose call: our environment, no stdin, bounded, errors we can print."""
        base = len(self.compose_command_property)
        verb = cmd[base] if len(cmd) > base else "(no command)"
        proc = run_command(cmd, cwd=context or str(self.context), env=self.env,
                           timeout=self.timeout, error=StackError,
                           what=f"docker compose {verb}", missing=DOCKER_MISSING)
        # bytes, as the testcontainers methods that call this expect
        return subprocess.CompletedProcess(proc.args, proc.returncode,
                                           proc.stdout.encode(), proc.stderr.encode())

    def run(self, *args: str, timeout: float | None = None) -> str:
        """`docker compose -p PROJECT ARGS`; its output (stdout and stderr)."""
        saved, self.timeout = self.timeout, timeout or self.timeout
        try:
            proc = self._run_command([*self.compose_command_property, *args])
        finally:
            self.timeout = saved
        return (proc.stdout + proc.stderr).decode()

    def build_images(self, services: Sequence[str], meanwhile: Callable[[], None],
              timeout: float) -> None:
        """`docker compose build SERVICES`: compose builds them side by side. `meanwhile`
        runs about every second while it does (progress). Any error here, Ctrl-C
        included, stops compose and its builds before it is raised."""
        build = Background([*self.compose_command_property, "build", *services],
                           error=StackError, what="docker compose build",
                           missing=DOCKER_MISSING, env=self.env, cwd=str(self.context))
        try:
            build.wait(timeout, meanwhile)
        finally:
            build.stop()

    def log_tail(self, service: str, lines: int = 30) -> str:
        try:
            text = self.run("logs", "--no-color", "--tail", str(lines), service, timeout=30)
        except StackError as exc:
            return str(exc)
        return text.strip() or "(no output)"

    def follow_logs(self, service: str | None, follow: bool) -> int:
        """Logs straight to this terminal (`lab logs`)."""
        cmd = [*self.compose_command_property, "logs", "--no-color",
               *(["--follow"] if follow else []), *([service] if service else [])]
        return subprocess.run(cmd, cwd=str(self.context), env=self.env,
                              stdin=subprocess.DEVNULL).returncode
