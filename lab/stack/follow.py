"""Lines as a service of a running lab writes them, live, for `lab watch`: a file in its
container (`follow_file`) or its own output (`follow_output`).

A file is followed by a `tail -F` in the container that ends when its standard input
does: the exec's input is this process's connection to the engine, so closing it (or
this process dying, even by kill -9) ends the `tail` too. Nothing is left running in
the lab after a watch.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

from lab.errors import LabError
from lab.stack.lifecycle import Stack
from lab.stack.lines import Follow

#: what the follower prints once it knows where the file ends: lines after it are new
READY = b"lab-follow-ready"


def _container(stack: Stack, service: str):
    state = stack.states().get(service)
    if state is None or state.state != "running":
        raise LabError(f"the lab's {service} is not running: run `lab up`")
    return state


def follow_file(stack: Stack, service: str, path: str) -> Follow:
    """The lines written to `path` in the service's container from now on."""
    from docker.utils.socket import frames_iter

    state = _container(stack, service)
    script = (f'f={path}; s=$(stat -c %s "$f" 2>/dev/null || echo 0); '
              f"echo {READY.decode()}; "
              # -s: tail polls (no inotify on the container's layers): 0.1 s keeps it live
              'tail -s 0.1 -c +$((s + 1)) -F "$f" 2>/dev/null & t=$!; read _; kill $t')
    api = stack.engine.client.api
    exec_id = api.exec_create(state.container_id, ["sh", "-c", script], stdin=True,
                              stdout=True, stderr=False)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw = getattr(sock, "_sock", sock)

    def chunks() -> Iterator[bytes]:
        started = False
        for _, data in frames_iter(sock, tty=False):
            if not started:                  # the marker comes first, alone
                started = True
                data = data.split(READY + b"\n", 1)[-1]
            yield data

    def close() -> None:
        try:
            raw.shutdown(socket.SHUT_RDWR)   # the exec's input ends: its tail is killed
        except OSError:
            pass
        sock.close()

    stream = chunks()
    try:
        first = next(stream, None)           # wait for the marker: from here on, live
    except BaseException:
        close()
        raise
    if first is None:
        close()
        raise LabError(f"cannot follow {path} in the lab's {service}")
    return Follow(_prepend(first, stream), close)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def follow_output(stack: Stack, service: str) -> Follow:
    """What the service's main process writes to its output from now on."""
    stream = stack.engine.output_stream(_container(stack, service), since=time.time())
    if stream is None:
        raise LabError(f"cannot follow the output of the lab's {service}")
    return Follow(iter(stream), stream.close)
