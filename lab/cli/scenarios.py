"""`lab env`, `lab run`, `lab matrix`, `lab report`: the scenario catalogue from the
command line.

Usage errors (no lab to prove against, an unknown scenario, an empty command) are
`UsageError`s: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

from lab.cli.common import say as _say
from lab.cli.common import stack_of as _stack
from lab.errors import LabNotRunning, UsageError


def _lab_for_scenarios(args, healthy: bool = True):
    """(stack, endpoints); no lab is a usage error here (nothing to prove against).
    `healthy=False`: a service paused by `lab fault` still counts."""
    stack = _stack(args)
    try:
        return stack, stack.endpoints(healthy=healthy)
    except LabNotRunning as exc:
        raise UsageError(str(exc)) from None


def _directory(stack, endpoints):
    """The lab's DC as its administrator: the account scenarios' preparation."""
    from lab.clients.directory import directory_of

    return directory_of(endpoints, stack.config.admin_password)


def _names(values: list[str]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _select(only: list[str], skip: list[str]) -> list[str]:
    from lab.scenarios.catalogue import UnknownScenario, select

    try:
        return select(_names(only), _names(skip))
    except UnknownScenario as exc:
        raise UsageError(str(exc)) from None


def _command(args) -> list[str]:
    if not args.cmd:
        raise UsageError(f"no command to run: `lab {args.command} ... -- CMD ARGS...`")
    return list(args.cmd)


def _refuse_exclusive(name: str) -> None:
    """A scenario that pauses a lab service runs only under `lab matrix`."""
    from lab.scenarios.catalogue import spec
    from lab.scenarios.scenario import only_under_matrix

    if spec(name).pause is not None:
        raise UsageError(only_under_matrix(name))


def cmd_env(args) -> int:
    from lab.config.discovery import load_config
    from lab.scenarios.catalogue import NAMES, describe
    from lab.scenarios.clientenv import MANAGED_VARIABLES
    from lab.scenarios.matrix import new_run_id
    from lab.scenarios.scenario import build_scenarios

    if args.list:
        config = load_config(file=args.config)
        for entry in describe(config.workgroup, config.realm):
            print(f"{entry['name']:<22} {entry['expect']:<14} {entry['description']}")
        return 0
    if not args.scenario:
        raise UsageError("which scenario? `lab env SCENARIO` (`lab env --list`): "
                         + ", ".join(NAMES))
    name = _select([args.scenario], [])[0]
    from lab.scenarios.catalogue import spec

    if spec(name).fault is not None:
        raise UsageError(f"{name} needs a faulty proxy that lives as long as its client, "
                         f"which `lab env` cannot give: use `lab run {name} -- CMD`")
    _refuse_exclusive(name)
    stack, endpoints = _lab_for_scenarios(args, healthy=False)
    # the shell uses the files after we exit: they live in the project's state dir
    workdir = stack.config.state_dir / "env"
    scenario = build_scenarios(endpoints, [name], run=new_run_id(), workdir=workdir,
                               directory=_directory(stack, endpoints))[0]
    unset = [v for v in MANAGED_VARIABLES if v not in scenario.env]
    print("unset " + " ".join(unset))
    for key, value in scenario.env.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_run(args) -> int:
    import subprocess
    import tempfile

    from lab.scenarios.matrix import new_run_id, substitute
    from lab.scenarios.scenario import build_scenarios

    name = _select([args.scenario], [])[0]
    _refuse_exclusive(name)
    command = _command(args)
    stack, endpoints = _lab_for_scenarios(args, healthy=False)
    from lab.scenarios.catalogue import spec
    from lab.scenarios.fault_gateway import fault_gateways

    with tempfile.TemporaryDirectory(prefix="lab-run-") as workdir, \
            fault_gateways(endpoints, [spec(name)]) as gateways:
        scenario = build_scenarios(endpoints, [name], run=new_run_id(),
                                   workdir=Path(workdir), gateways=gateways.of_client(0),
                                   directory=_directory(stack, endpoints))[0]
        argv = substitute(command, scenario)
        with scenario.watching():
            try:
                code = subprocess.run(argv, env=scenario.environ()).returncode
            except OSError as exc:
                _say(f"cannot run {argv[0]}: {exc.strerror}")
                return 127                  # what a shell (and env(1)) answers
            attempts = scenario.attempts()
        if attempts is not None:
            _say(f"{name}: the DC counted {attempts} wrong password(s) from this run "
                 f"(budget {scenario.budget})")
    return 128 - code if code < 0 else code     # killed by a signal: the shell's 128+N


def _check_output_path(option: str, path: str | None) -> None:
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{option} {path}: directory {Path(path).parent} does not exist")


def _clients(args):
    """`--client NAME=COMMAND` (each a shell-quoted command line) and `-- CMD ARGS`
    (named after its program), in that order; names unique, programs found."""
    from lab.scenarios.matrix import Client, client_slug

    clients = []
    for given in args.client:
        name, sep, line = given.partition("=")
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"--client {given!r}: {exc}") from None
        if not sep or not name.strip() or not argv:
            raise UsageError(f"--client {given!r}: give NAME=COMMAND, e.g. "
                             "--client curl='curl -fsS -o /dev/null {url}'")
        clients.append(Client(name.strip(), tuple(argv)))
    if args.cmd or not clients:
        argv = _command(args)
        clients.append(Client("" if not clients else Path(argv[0]).name, tuple(argv)))
    seen = set()
    for client in clients:
        if shutil.which(client.command[0]) is None:
            raise UsageError(f"{client.command[0]}: command not found")
        key = client_slug(client.name)
        if key in seen:
            raise UsageError(f"two clients named {client.name!r}: give each its own name")
        seen.add(key)
    return clients


def cmd_matrix(args) -> int:
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: give 1 or more")
    _check_output_path("--junit", args.junit)
    _check_output_path("--html", args.html)
    names = _select(args.only, args.skip)
    from lab.scenarios.catalogue import spec
    from lab.scenarios.fault_gateway import FaultServer

    # the fault scenarios' own proxy server (`FaultServer`) starts first, its start beside
    # the matrix's own modules loading and the lab being found: the longest scenario is
    # a fault one, and waits for it
    fault_server = FaultServer() if any(spec(n).fault for n in names) else None
    try:
        clients = _clients(args)
        from lab.scenarios import reports
        from lab.scenarios.matrix import run_clients

        stack, endpoints = _lab_for_scenarios(args)
        from lab.masking import Masker
        from lab.stack import service_faults

        config = stack.config   # every password of the configuration, not only the proxies'
        secrets = Masker.of([("Administrator", config.admin_password),
                             *((user.name, user.password) for user in config.users)])
        directory = _directory(stack, endpoints)
        witnesses = None if args.no_evidence else _witnesses(stack, endpoints)
    except BaseException:
        if fault_server is not None:
            fault_server.close()
        raise
    try:
        results = run_clients(endpoints, clients, names, timeout=args.timeout,
                              jobs=args.jobs, secrets=secrets, directory=directory,
                              pause=lambda service: service_faults.paused(stack, service,
                                                                          _say),
                              witnesses=witnesses, fault_server=fault_server)
    finally:              # (run_clients stops it too, once it has started using it)
        if fault_server is not None:
            fault_server.close()
    doc = reports.document(results)
    _write_reports(args, doc)
    return 0 if doc["failed"] == 0 else 1


def _witnesses(stack, endpoints):
    """Every part of the running lab that can say what it saw of a matrix's runs."""
    from lab.scenarios.evidence import Witnesses
    from lab.stack.service_faults import api_url
    from lab.stack.service_logs import LOGS, FaultJournal, ServiceLog

    logs = {name: ServiceLog(stack, service, path) for name, (service, path) in LOGS.items()}
    return Witnesses(squid=logs["squid"], dante=logs["dante"], bind=logs["bind"],
                     faults=FaultJournal(api_url(stack)), outside=endpoints.host_interface)


def _write_reports(args, doc) -> None:
    from lab.scenarios import reports

    if args.junit:
        Path(args.junit).write_text(reports.junit(doc))
    if args.html:
        Path(args.html).write_text(reports.html_report(doc))
    if args.json:
        print(reports.json_text(doc))
    else:
        print(reports.table(doc, colour=reports.wants_colour(sys.stdout)))


def _load(path: str):
    from lab.scenarios.reports import check_document

    try:
        return check_document(json.loads(Path(path).read_text()), path)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON ({exc.msg}, line {exc.lineno}): give what "
                         "`lab matrix --json` wrote") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_report(args) -> int:
    """One saved run shown again; two: what changed, exit 1 if something that passed
    now fails."""
    from lab.scenarios import reports

    if len(args.files) > 2:
        raise UsageError("give one saved run (to show it) or two (to compare them)")
    _check_output_path("--junit", args.junit)
    _check_output_path("--html", args.html)
    docs = [_load(path) for path in args.files]
    if len(docs) == 1:
        _write_reports(args, docs[0])
        return 0 if docs[0]["failed"] == 0 else 1
    if args.junit or args.html or args.json:
        raise UsageError("--junit, --html and --json render one run: give one file")
    found = reports.changes(*docs)
    print("\n".join(found.lines) if found.lines else "no scenario changed its verdict")
    return 1 if found.broke else 0



def add_parsers(sub) -> None:
    """The four subcommands, on the `lab` command's subparsers."""
    env = sub.add_parser("env", help="export lines for a scenario: eval \"$(lab env basic)\"")
    env.add_argument("scenario", nargs="?", metavar="SCENARIO")
    env.add_argument("--list", action="store_true", help="the catalogue: name, expect, what")
    env.set_defaults(func=cmd_env)
    run = sub.add_parser("run", help="run one command in a scenario's environment, exit "
                         "with its code: lab run basic -- curl -f {url}")
    run.add_argument("scenario", metavar="SCENARIO")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    run.set_defaults(func=cmd_run)
    matrix = sub.add_parser(
        "matrix", help="run a command once per scenario and judge it: "
        "lab matrix -- curl -fsS --proxy-anyauth -U : -o /dev/null {url}",
        description="Runs CMD once per scenario, in that scenario's environment, with "
        "{url}, {https_url} and {scenario} in its arguments replaced; judges each run by "
        "its exit code and by what reached the origin. Exit 0 only if every scenario "
        "passed; 2 for a usage error.")
    matrix.add_argument("--only", action="append", default=[], metavar="A,B",
                        help="only these scenarios (`lab env --list`)")
    matrix.add_argument("--skip", action="append", default=[], metavar="C",
                        help="leave these scenarios out")
    matrix.add_argument("--timeout", type=float, default=20.0, metavar="S",
                        help="seconds each run may take before its process group is "
                        "killed (default 20)")
    matrix.add_argument("--jobs", type=int, metavar="N",
                        help="scenarios run at once (default: 4 per CPU)")
    matrix.add_argument("--no-evidence", action="store_true",
                        help="judge by the origin only: read no log of squid, dante, bind "
                        "or the fault layer (no diagnoses)")
    matrix.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    matrix.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    matrix.add_argument("--json", action="store_true", help="JSON on stdout instead of "
                        "the table")
    matrix.add_argument("--client", action="append", default=[], metavar="NAME=COMMAND",
                        help="a client to run over the scenarios, its command line quoted "
                        "as one argument (repeatable: one report, a column per client)")
    matrix.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    matrix.set_defaults(func=cmd_matrix)
    report = sub.add_parser(
        "report", help="show a saved `lab matrix --json` run again, or what changed "
        "between two: lab report before.json after.json",
        description="One FILE: its table, or --junit/--html/--json as `lab matrix` writes "
        "them; exit 1 if a scenario failed. Two: what changed, what passed and now fails "
        "first; exit 1 if anything did.")
    report.add_argument("files", nargs="+", metavar="FILE.json")
    report.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    report.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    report.add_argument("--json", action="store_true", help="the JSON instead of the table")
    report.set_defaults(func=cmd_report)
