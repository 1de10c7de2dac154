"""The `lab` command: parse, call the library, print. Nothing else.

Every failure the user can act on is a `LabError` (or a `lab.proxy` error from
`lab fetch`): one line on stderr, exit 1. Usage errors exit 2 (argparse, and
`UsageError`: for `env`/`run`/`matrix`, an unknown scenario, an empty command
and no lab to run against are usage errors, as the issue asks).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from lab.cli import ad, faults, project, scenarios, watch
from lab.cli.common import say as _say
from lab.cli.common import stack_of as _stack
from lab.config.topology import PROXY_PORTS, SERVICE_NAMES
from lab.endpoints import Endpoints
from lab.errors import LabError, LabNotRunning, UsageError


def format_endpoints(ep: Endpoints) -> str:
    """The human table `lab up` and `lab status` print."""
    rows = [("what", "where", "credentials")]
    for name, proxy in ep.proxy.items():
        creds = f"{proxy.username} / {proxy.password}" if proxy.username else "-"
        where = f"{proxy.host}:{proxy.port}"
        rows.append((f"proxy {name}", where if proxy.scheme == "http"
                     else f"{proxy.scheme}://{where}", creds))
    rows.append(("dns", f"{ep.dns.host}:{ep.dns.port} (udp+tcp)", f"zone {ep.dc.domain}"))
    rows.append(("dc ldap", f"{ep.dc.ldap.host}:{ep.dc.ldap.port}", f"base {ep.dc.base_dn}"))
    rows.append(("dc kerberos", f"{ep.dc.kerberos.host}:{ep.dc.kerberos.port}",
                 f"realm {ep.dc.realm}"))
    rows.append(("web", ep.web.url, f"via proxy: {ep.web.proxy_url}"))
    rows.append(("web https", ep.web.https_url,
                 f"via proxy: {ep.web.https_proxy_url} (CA {ep.web.ca_cert})"))
    if ep.pac_url:
        rows.append(("pac", ep.pac_url, "proxy auto-config (also /wpad.dat)"))
    if ep.corporate_ca:
        rows.append(("corporate CA", ep.corporate_ca, "what `bump` re-signs HTTPS with"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    example = ep.proxy["basic"]
    lines.append("")
    lines.append(f"try: curl -x {example.host}:{example.port} "
                 f"-U {example.username}:'{example.password}' {ep.web.proxy_url}simpleresource")
    return "\n".join(lines)


def cmd_up(args) -> int:
    from lab.host import prepare
    base_image = prepare.prepare(_say)       # the CLI prepares the host; Stack.up() never does
    endpoints = _stack(args, base_image=base_image).up(say=_say)
    print(format_endpoints(endpoints), flush=True)     # before the checks' lines
    # --check: `lab check` in this process (what `make lab-up` runs), without a second
    # command's start, imports and questions to the engine
    return _checked(endpoints) if args.check else 0


def cmd_down(args) -> int:
    stack = _stack(args)
    if args.all:
        from lab.stack.prune import down_all

        keep = set() if args.images else {stack.config.project}
        projects = down_all(stack.engine, _say, keep_images=keep)
        _say(f"{len(projects)} lab(s) down" + ("" if args.images else
             f"; images of {stack.config.project!r} kept (--images removes them too)"))
        return 0
    stack.down(say=_say)
    _say("lab is down")
    return 0


def cmd_status(args) -> int:
    stack = _stack(args)
    if args.json:
        from lab.scenarios.catalogue import describe

        endpoints = stack.endpoints()
        doc = {**endpoints.to_json(),
               "scenarios": describe(endpoints.dc.workgroup, endpoints.dc.realm)}
        print(json.dumps(doc, indent=2))
        return 0
    states = stack.states()
    if not states:
        raise LabNotRunning(f"lab {stack.config.project!r} is not running: run `make lab-up`")
    ready = stack.ready(states)         # its own check, where docker has not run one yet
    for service in SERVICE_NAMES:
        state = states.get(service)
        text = "running (healthy)" if service in ready else (
            state.describe() if state else "absent")
        print(f"{service:<6} {text}")
    endpoints = stack.endpoints(states, checked=set(SERVICE_NAMES) <= ready)
    from lab.clients.check import dynamic_dns_registered

    print(f"dc dynamic DNS registrations in bind: {dynamic_dns_registered(endpoints)[1]}")
    print()
    print(format_endpoints(endpoints))
    return 0


def cmd_check(args) -> int:
    stack = _stack(args)
    states = stack.states()
    # Every container running: its own end-to-end requests are the verdict, not the
    # health checks once more (right after `lab up` docker has run none yet, and each
    # would be a `docker exec`: ~1 s in all). One paused or stopped (a fault left on):
    # said at once, as every command says it, not after each request's timeout.
    running = bool(states) and all(state.state == "running" for state in states.values())
    return _checked(stack.endpoints(states, healthy=not running))


def _checked(endpoints: Endpoints) -> int:
    """`lab check`'s requests against `endpoints`, a line each; 1 if any failed."""
    from lab.clients.check import run_checks

    failed = 0
    for what, ok, detail in run_checks(endpoints):
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
        failed += not ok
    if failed:
        _say(f"{failed} check(s) failed; see `lab logs`")
    return 1 if failed else 0


def cmd_fetch(args) -> int:
    from lab.clients import fetch
    fetch.check_url(args.url)
    if args.password is not None and args.user is None:
        raise LabError("--password needs --user (whose password is it?)")
    stack = _stack(args)
    endpoints = stack.endpoints(healthy=False)     # under `lab fault`, show what it does
    proxy = endpoints.proxy[args.via]
    username, password = proxy.username, proxy.password
    if args.user is not None:
        username, password = args.user, args.password
        if password is None:
            known = {u.name: u for u in stack.config.users}
            if args.user not in known:
                raise LabError(f"--user {args.user}: not a lab.toml user, so give --password")
            password = known[args.user].password
    return fetch.run(endpoints, args.url, args.via, username, password)


def cmd_logs(args) -> int:
    return _stack(args).logs(args.service, follow=args.follow)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="A corporate LAN in containers: proxy, DNS, AD, web.")
    parser.add_argument("--config", metavar="FILE", type=Path,
                        help="the project's lab.toml (default: LAB_CONFIG, else lab.toml "
                        "here or in a parent directory, else the packaged default)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="build and start the lab, wait until healthy")
    up.add_argument("--check", action="store_true",
                    help="then prove it works, as `lab check` does (what `make lab-up` runs)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="remove the lab's containers, network, volumes")
    down.add_argument("--all", action="store_true", help="every lab project on this engine, "
                      "and the images of those that no longer exist")
    down.add_argument("--images", action="store_true",
                      help="with --all: this project's images too")
    down.set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="services and endpoints of the running lab")
    status.add_argument("--json", action="store_true", help="machine-readable endpoints")
    status.set_defaults(func=cmd_status)
    sub.add_parser("check", help="prove the running lab works (proxy, DNS)").set_defaults(
        func=cmd_check)
    fetch = sub.add_parser("fetch", help="GET a URL through a lab proxy port (lab.proxy); "
                           "exits 1 unless the answer is 2xx")
    fetch.add_argument("url")
    fetch.add_argument("--via", default="noauth", choices=PROXY_PORTS, metavar="PORT",
                       help="proxy port: " + ", ".join(PROXY_PORTS) + " (default: noauth)")
    fetch.add_argument("--user", help="user name (default: the port's advertised user; a "
                       "lab.toml user needs no --password)")
    fetch.add_argument("--password")
    fetch.set_defaults(func=cmd_fetch)
    ad.add_parsers(sub)
    scenarios.add_parsers(sub)
    faults.add_parsers(sub)
    project.add_parsers(sub)
    watch.add_parsers(sub)
    logs = sub.add_parser("logs", help="service logs")
    logs.add_argument("service", nargs="?", choices=SERVICE_NAMES, metavar="SERVICE",
                      help="one of: " + ", ".join(SERVICE_NAMES))
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_logs)
    return parser


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt      # SIGTERM (timeout, CI cancel) is handled like Ctrl-C


def _parse(argv: list[str]) -> argparse.Namespace:
    """Everything after the first `--` is the command to run, never an option of ours."""
    command: list[str] | None = None
    at = 0                                   # the subcommand, after global options
    while at < len(argv) and argv[at].startswith("-") and argv[at] != "--":
        at += 2 if argv[at] == "--config" else 1
    if argv[at:at + 1] in (["run"], ["matrix"]) and "--" in argv[at:]:
        at = argv.index("--")
        argv, command = argv[:at], argv[at + 1:]
    args = build_parser().parse_args(argv)
    if command is not None:
        if args.cmd:
            build_parser().error(f"unexpected {shlex.join(args.cmd)} before --")
        args.cmd = command
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else list(argv))
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:           # `lab status | head`
        sys.stderr.close()
        return 0

