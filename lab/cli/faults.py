"""`lab fault ...`: faults on demand from the command line.

    lab fault add PORT TOXIC [attr=value ...] [--upstream] [--toxicity F] [--name N]
    lab fault list
    lab fault pause SERVICE | stop SERVICE
    lab fault clear                      # everything back to healthy

PORT names a fault proxy: `basic` (or `proxy_basic`), `web`, `web_https`, or a
published port number. Toxics and attributes are Toxiproxy's (`lab.faults.schema`).
"""

from __future__ import annotations

import json
import time
import urllib.error

from lab.cli.common import say as _say
from lab.cli.common import stack_of as _stack
from lab.errors import LabError, UsageError


def _run(action):
    """The fault client's own errors as the CLI's one-line errors."""
    from lab.faults.client import FaultAPIError
    from lab.faults.schema import FaultRequestError

    try:
        return action()
    except FaultRequestError as exc:
        raise UsageError(str(exc)) from None
    except FaultAPIError as exc:
        raise LabError(f"the fault layer refused: {exc}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LabError(f"the fault layer's API does not answer ({exc}): is the lab up?"
                       ) from None


def cmd_fault(args) -> int:
    from lab.faults import client
    from lab.stack import service_faults

    stack = _stack(args)
    if args.fault_command in ("pause", "stop"):
        getattr(service_faults, args.fault_command)(stack, args.service)
        _say(f"{args.service} {'paused' if args.fault_command == 'pause' else 'stopped'}; "
             "`lab fault clear` brings it back")
        return 0
    if args.fault_command == "clear":
        started = time.monotonic()
        _run(lambda: service_faults.restore(stack, _say))
        _say(f"healthy again in {time.monotonic() - started:.2f} s")
        return 0
    url = service_faults.api_url(stack)
    if args.fault_command == "list":
        for proxy in _run(lambda: client.list(url=url)):
            toxics = ", ".join(
                f"{t['name']} ({t['type']} {t['stream']} "
                + " ".join(f"{k}={v}" for k, v in t["attributes"].items())
                + (f" toxicity={t['toxicity']}" if t["toxicity"] != 1 else "") + ")"
                for t in proxy["toxics"]) or "-"
            state = "" if proxy["enabled"] else " DOWN"
            print(f"{proxy['name']:<16} {proxy['upstream']:<22}{state} {toxics}")
        return 0
    toxic = _run(lambda: client.add(args.port, args.toxic, args.attributes, args.upstream,
                                    args.toxicity, args.name, url=url))
    print(json.dumps(toxic))
    return 0


def add_parsers(sub) -> None:
    fault = sub.add_parser("fault", help="faults on demand: toxics on ports, services "
                           "paused or stopped, `clear` to heal")
    verbs = fault.add_subparsers(dest="fault_command", required=True, metavar="COMMAND")
    add = verbs.add_parser("add", help="a toxic on a port: lab fault add basic latency "
                           "latency=2000")
    add.add_argument("port", help="basic, ldap, ..., web, web_https, or a published port")
    add.add_argument("toxic", help="latency, bandwidth, slicer, timeout, reset_peer, "
                     "limit_data, slow_close")
    add.add_argument("attributes", nargs="*", metavar="attr=value")
    add.add_argument("--upstream", action="store_true",
                     help="on what the client sends (default: on what it receives)")
    add.add_argument("--toxicity", type=float, default=1.0,
                     help="share of connections affected (0..1, default 1)")
    add.add_argument("--name", help="the toxic's name (default TYPE_STREAM)")
    verbs.add_parser("list", help="every fault proxy and its toxics")
    verbs.add_parser("clear", help="remove every toxic, bring every service back, "
                     "wait until healthy")
    for verb, what in (("pause", "freeze"), ("stop", "stop")):
        parser = verbs.add_parser(verb, help=f"{what} a service (dns, dc, proxy, web)")
        parser.add_argument("service")
    fault.set_defaults(func=cmd_fault)


