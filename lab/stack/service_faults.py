"""Faults of whole services (the DC frozen or gone, DNS down, the origin gone), and
putting everything back: what `lab fault pause|stop|clear` and the `lab_faults`
fixture do. The port-level toxics live in `lab.faults` (no Docker there); this module
is the Docker side: it finds the fault layer's API and the containers by label.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator

from lab.config.topology import PORTS_BY_NAME, SERVICE_NAMES
from lab.errors import LabError, LabNotRunning
from lab.stack.lifecycle import Stack

#: Services a fault may take away (the fault layer itself stays: it is the switch).
FAULTABLE_SERVICES = tuple(s for s in SERVICE_NAMES if s != "faults")
#: How long a service back from a fault may take until the lab is healthy again.
RECOVERY_TIMEOUT = 120.0


def api_url(stack: Stack) -> str:
    """The fault layer's API, from the published port (found even while some other
    service is down, when `stack.endpoints()` would refuse)."""
    state = stack.states().get("faults")
    port = state.published.get(PORTS_BY_NAME["faults_api"].container_port) if state else None
    if state is None or state.state != "running" or port is None:
        raise LabNotRunning(f"the fault layer of lab {stack.config.project!r} is not running: "
                            "run `lab up`")
    return f"http://{stack.config.public_host}:{port}"   # 127.0.0.1, or a remote engine


def _container(stack: Stack, service: str):
    if service not in FAULTABLE_SERVICES:
        raise LabError(f"no service {service!r} to take away; the lab's services are: "
                       + ", ".join(FAULTABLE_SERVICES))
    state = stack.states().get(service)
    if state is None:
        raise LabNotRunning(f"service {service} of lab {stack.config.project!r} does not exist:"
                            " run `lab up`")
    return stack.engine.client.containers.get(state.container_id)


#: runc gives up freezing a cgroup whose processes keep changing (a `docker exec` health
#: check entering it, forks), "unable to freeze", and thaws it again: seen under load.
PAUSE_ATTEMPTS = 5


def pause(stack: Stack, service: str) -> None:
    """Freeze the service: its ports still accept connections, nothing answers."""
    import docker.errors

    container = _container(stack, service)
    if container.status == "paused":
        return
    for attempt in range(1, PAUSE_ATTEMPTS + 1):
        try:
            container.pause()
            return
        except docker.errors.APIError as error:
            if "unable to freeze" not in str(error) or attempt == PAUSE_ATTEMPTS:
                raise LabError(f"could not pause {service}: {error.explanation or error}") \
                    from None
            time.sleep(0.2 * attempt)      # a retry's back-off: let the exec or fork finish


def stop(stack: Stack, service: str) -> None:
    """Stop the service: its address no longer answers at all."""
    _container(stack, service).stop(timeout=0)


def restore(stack: Stack, say: Callable[[str], None] = lambda _m: None,
            timeout: float = RECOVERY_TIMEOUT) -> None:
    """Every toxic gone, every service back and healthy (services first: the API's
    own answer comes through the fault layer's container, which never goes away)."""
    from lab.faults.client import FaultClient

    states = stack.states()
    brought_back = False
    for service, state in states.items():
        container = stack.engine.client.containers.get(state.container_id)
        if state.state == "paused":
            say(f"unpausing {service}")
            container.unpause()
            brought_back = True
        elif state.state in ("exited", "created"):
            say(f"starting {service}")
            container.start()
            brought_back = True
    FaultClient(api_url(stack)).reset()
    # after a service was away, docker's last verdicts may predate it: check afresh
    stack.wait_healthy(say, timeout, heal=True, fresh=brought_back)


#: How long squid's Basic helpers may take to answer the checks begun while the DC
#: was frozen (each gives up after 2 s: basic_dispatch.py's ANSWER_TIMEOUT).
HELPERS_SETTLE_TIMEOUT = 30.0
_POLL = 0.2
_MANAGER_PAGE = ('curl -fsS --max-time 3 '
                 '"http://127.0.0.1:$LAB_CPORT_PROXY_NOAUTH/squid-internal-mgr/basicauthenticator"')


def pending_checks(page: str) -> int | None:
    """Basic credential checks squid has queued or sent to its helpers and not had
    answered, from its cache manager's `basicauthenticator` page; None if unreadable."""
    counts = {}
    for key in ("requests sent", "replies received", "requests timedout", "queue length"):
        match = re.search(rf"^\s*{key}:\s*(\d+)\s*$", page, re.MULTILINE)
        if match is None:
            return None
        counts[key] = int(match.group(1))
    in_flight = counts["requests sent"] - counts["replies received"] - counts["requests timedout"]
    return max(in_flight, 0) + counts["queue length"]


def wait_basic_checks_answered(stack: Stack, timeout: float = HELPERS_SETTLE_TIMEOUT) -> bool:
    """Wait (bounded) until squid has no Basic check in flight; False if it cannot tell
    or the bound passed. A check begun while the DC is frozen that completes after it
    is thawed is cached as valid for two hours (squid's credentialsttl), even when the
    client has long gone: thawing the DC first would let `dc-down`'s user through next
    time."""
    proxy = stack.states().get("proxy")
    if proxy is None:
        return False
    deadline = time.monotonic() + timeout
    while True:
        ran = stack.engine.run_in(proxy, ["sh", "-c", _MANAGER_PAGE])
        pending = pending_checks(ran[1]) if ran is not None and ran[0] == 0 else None
        if pending == 0:
            return True
        if pending is None or time.monotonic() > deadline:
            return False
        time.sleep(_POLL)


@contextlib.contextmanager
def paused(stack: Stack, service: str, say: Callable[[str], None] = lambda _m: None,
           timeout: float = RECOVERY_TIMEOUT) -> Iterator[None]:
    """`service` frozen for the block; then thawed, and every service's own health
    check passing again (bounded by `timeout`) before the block is left. A service
    that was already paused is left paused. The DC is thawed only once squid has no
    Basic check left in flight (see `wait_basic_checks_answered`)."""
    already = _container(stack, service).status == "paused"
    pause(stack, service)
    try:
        yield
    finally:
        if not already:
            if service == "dc" and not wait_basic_checks_answered(stack):
                say("squid's Basic checks did not settle while the DC was paused: a user "
                    "sent meanwhile may now be cached as valid for two hours")
            _container(stack, service).unpause()
            started = time.monotonic()
            stack.wait_healthy(lambda _m: None, timeout, heal=True, fresh=True)
            say(f"{service} back, the lab healthy again after "
                f"{time.monotonic() - started:.1f} s")
