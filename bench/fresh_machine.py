"""`python -m bench fresh [--source=DIR]`: `make lab-up` from a clean clone on a fresh
Debian 12 machine with no Docker, timed step by step (issue 14: at most 3 min).

This machine already has Docker, so the fresh machine is a throwaway container:

- from the lab's base image (`lab-base/debian:bookworm`, mmdebstrap minbase: no
  python3, no make, no Docker), started as second_engine starts its engine
  (privilege_options(), a volume of its own on /var/lib/docker, where the inner
  engine's overlay2 works) and "booted" by harness/dind/prepare.sh (/sys and the
  cgroups writable, as dockerd needs);
- brought to what a Debian 12 installation with "standard system utilities" has:
  every package of Priority important or standard, with their recommends (what
  debian-installer and tasksel install; python3 among them, make, git and python3-venv
  not), timed apart;
- PyPI through a relay: the container reaches Debian's mirror but not PyPI, so this
  process runs an HTTP CONNECT relay on the docker bridge's gateway that tunnels to
  pypi.org:443 and files.pythonhosted.org:443 only, and the machine gets
  `PIP_PROXY=http://<gateway>:<port>` (pip's own variable: nothing else is proxied);
  where this host's way out re-signs TLS (its pip is given a CA bundle: PIP_CERT or
  REQUESTS_CA_BUNDLE), that file goes in read-only as the machine's PIP_CERT, again
  pip's alone;
- then, as a new user would: .ci/run's prelude (`apt-get update && apt-get install -y
  make python3-venv`, timed apart), and `cd lab && time make lab-up` as root on a
  clean clone of DIR's HEAD (default: this checkout), until `lab check` has passed.

The full output goes to a log (each line with its time since `make lab-up` started);
the `lab: [N/T what]` progress lines give the per-step breakdown. The figures are
kept in bench/fresh_machine_last.json, which a plain `make bench` prints.

Teardown whatever happens (Ctrl-C and SIGTERM included): the container (the inner
engine and the lab's images in it die with it), its volume, the relay, the clone.
What a killed run left (its owner process gone) is removed at the next start.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.measure import cpu_seconds
from bench.rate import report
from harness import second_engine
from harness.second_engine import (
    CONTEXT as DIND_CONTEXT,
)
from harness.second_engine import (
    OWNER_LABEL,
    _docker,
    _owner,
    privilege_options,
)
from lab.host.prepare import LOCAL_BASE_IMAGE

REPO = Path(__file__).resolve().parent.parent
IMAGE = LOCAL_BASE_IMAGE
LABEL = "lab.bench=fresh-machine"
PREPARE = DIND_CONTEXT / "prepare.sh"
RESULTS = Path(__file__).resolve().parent / "fresh_machine_last.json"
LOG = Path(__file__).resolve().parent / "fresh_machine_last.log"
#: Where pip may go through the relay, and nowhere else.
ALLOWED = {("pypi.org", 443), ("files.pythonhosted.org", 443)}
GOAL = 180.0
BOOT_TIMEOUT = 60.0
MAKE_TIMEOUT = 45 * 60.0
#: What the machine has before the user starts: Debian 12 with "standard system
#: utilities" (debian-installer installs Priority required and important, tasksel's
#: "standard" task adds Priority standard; apt installs recommends by default).
STANDARD_INSTALL = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
pkgs=$(awk '/^Package:/ { p = $2 }
            /^Priority:/ && ($2 == "important" || $2 == "standard") { print p }' \
       /var/lib/apt/lists/*_main_binary-amd64_Packages | sort -u)
echo "standard install: $(echo $pkgs | wc -w) packages of Priority important or standard:" $pkgs
apt-get install -y $pkgs
"""
#: .ci/run's prelude: what `make` itself needs on such a machine.
PRELUDE = ("apt-get update && DEBIAN_FRONTEND=noninteractive "
           "apt-get install -y make python3-venv")
STEP_LINE = re.compile(r"^lab: \[(\d+/\d+) ([^\]]*)\] (.*)$")


class FreshMachineError(RuntimeError):
    pass


# -- the relay: HTTP CONNECT to PyPI only ---------------------------------------


class Relay:
    """An HTTP CONNECT relay on `host`, in a thread of its own, tunnelling to ALLOWED
    only (anything else: 403, counted in `refused`)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.tunnels: dict[str, int] = {}
        self.bytes = 0
        self.refused: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pypi-relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._error: BaseException | None = None

    def start(self) -> Relay:
        self._thread.start()
        self._started.wait(10)
        if self._error is not None or not self.port:
            raise FreshMachineError(f"the PyPI relay could not listen on {self.host}: "
                                    f"{self._error}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, 0))
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
        self._started.set()
        if self._error is None:
            self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shut(), self._loop)
        self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_writer = None
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                return
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split() + ["", ""]
            host, _, port = target.rpartition(":")
            wanted = (host.lower(), int(port) if port.isdigit() else 0)
            if method != "CONNECT" or wanted not in ALLOWED:
                self.refused.append(f"{method} {target}")
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            try:
                upstream_reader, upstream_writer = await asyncio.wait_for(
                    asyncio.open_connection(host, int(port)), 30)
            except (OSError, TimeoutError):
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            self.tunnels[host.lower()] = self.tunnels.get(host.lower(), 0) + 1
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(self._pipe(reader, upstream_writer),
                                 self._pipe(upstream_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.bytes += len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            writer.close()


# -- the machine ------------------------------------------------------------------


def bridge_gateway() -> str:
    """The docker bridge's gateway: this host as the fresh machine sees it."""
    out = _docker("network", "inspect", "bridge", "--format",
                  "{{range .IPAM.Config}}{{.Gateway}} {{end}}").stdout.split()
    if not out:
        raise FreshMachineError("the docker bridge network has no gateway address")
    return out[0]


def remove_leftovers() -> list[str]:
    """Fresh machines (container, volume) of earlier runs whose owner process is gone."""
    return second_engine.remove_leftovers(LABEL)


def host_pip_cert() -> Path | None:
    """The CA bundle this host's pip verifies PyPI with, when it is told one (PIP_CERT,
    REQUESTS_CA_BUNDLE): where the way to PyPI re-signs TLS (a proxy inspecting it),
    pip in the machine needs that CA too."""
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    return None


def start_machine(name: str, pip_proxy: str, pip_cert: Path | None = None) -> None:
    """The container and its volume; returns once prepare.sh has run in it. With
    `pip_cert`, that file is PIP_CERT in the machine (read-only, outside /etc/ssl)."""
    labels = ["--label", LABEL, "--label", f"{OWNER_LABEL}={_owner()}"]
    cert = ["-v", f"{pip_cert}:/run/fresh-machine/pip-ca.pem:ro",
            "-e", "PIP_CERT=/run/fresh-machine/pip-ca.pem"] if pip_cert else []
    _docker("volume", "create", *labels, name)
    boot = ("sh /usr/local/sbin/fresh-prepare && touch /run/fresh-booted "
            "&& exec sleep infinity")
    _docker("run", "-d", "--name", name, "--hostname", "fresh-debian12", *labels, "--init",
            *privilege_options(), "-v", f"{name}:/var/lib/docker",
            "-v", f"{PREPARE}:/usr/local/sbin/fresh-prepare:ro",
            "-e", f"PIP_PROXY={pip_proxy}", *cert, "--entrypoint", "sh", IMAGE, "-c", boot)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while _docker("exec", name, "test", "-e", "/run/fresh-booted", check=False).returncode:
        running = _docker("inspect", "--format", "{{.State.Running}}", name,
                          check=False).stdout.strip()
        if running != "true" or time.monotonic() > deadline:
            logs = _docker("logs", name, check=False)
            raise FreshMachineError(f"the fresh machine did not boot ({running=}):\n"
                                    f"{(logs.stdout + logs.stderr)[-2000:]}")
        time.sleep(0.2)     # polling a process in another container: no event to wait on


def teardown(name: str) -> list[str]:
    """Container (with the inner engine and everything it holds) and volume; returns
    what is still there afterwards (nothing, normally)."""
    _docker("rm", "-f", name, check=False, timeout=300)
    _docker("volume", "rm", name, check=False, timeout=300)
    left = _docker("ps", "-aq", "--filter", f"name=^{name}$", check=False).stdout.split()
    left += _docker("volume", "ls", "-q", "--filter", f"name=^{name}$",
                    check=False).stdout.split()
    return left


def _timed_exec(name: str, script: str, log, label: str,
                timeout: float) -> tuple[int, float, list[tuple[float, str]]]:
    """`bash -c SCRIPT` in the machine, its output (with times) appended to `log`:
    exit status, seconds, and the lines with their times."""
    log.write(f"\n===== {label}: {script.strip()[:200]}\n")
    log.flush()
    started = time.monotonic()
    proc = subprocess.Popen(["docker", "exec", "-e", "PYTHONUNBUFFERED=1", name,
                             "bash", "-c", f"{script}\n"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: list[tuple[float, str]] = []
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            at = time.monotonic() - started
            lines.append((at, line.rstrip("\n")))
            log.write(f"{at:8.1f} {line}")
            log.flush()
            if line.startswith("lab: "):
                print(f"  {at:6.1f} s  {line.rstrip()}", file=sys.stderr, flush=True)
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    elapsed = time.monotonic() - started
    log.write(f"===== {label}: exit {rc} after {elapsed:.1f} s\n")
    log.flush()
    return rc, elapsed, lines


#: where `make lab-up`'s `lab check` begins: the table of endpoints `lab up --check` prints
#: once the lab is up
CHECK_BEGINS = re.compile(r"what\s+where\s+credentials$")


def parse_steps(lines: list[tuple[float, str]], end: float, rc: int) -> list[dict]:
    """Per-step start and duration from the progress lines: tools/step's `done in X s`
    or `FAILED`, lab.host's `done (N s)` or `error:`. A step with no end line (5/5 lab
    up) ends where its `lab check` begins, which runs until the end: the endpoints'
    table `lab up --check` prints first."""
    steps: dict[str, dict] = {}
    check_at = None
    for at, line in lines:
        if check_at is None and CHECK_BEGINS.match(line.strip()):
            check_at = at
        match = STEP_LINE.match(line)
        if not match:
            continue
        key, what, rest = match.groups()
        step = steps.setdefault(key, {"step": key, "what": what, "start": at, "end": None,
                                      "status": "unfinished"})
        done = re.match(r"done in ([\d.]+) s", rest)
        if done:
            step["end"], step["status"] = step["start"] + float(done.group(1)), "done"
        elif rest.startswith("done ("):
            step["end"], step["status"] = at, "done"
        elif rest.startswith("FAILED") or rest.startswith("error"):
            step["end"], step["status"] = at, "FAILED"
    out = []
    for step in sorted(steps.values(), key=lambda s: (s["start"], s["step"])):
        if step["end"] is None:
            if check_at is not None and check_at > step["start"]:
                step["end"], step["status"] = check_at, "done"
            else:
                step["end"] = end
                step["status"] = "done" if rc == 0 else "unfinished"
        out.append({"step": step["step"], "what": step["what"], "start": round(step["start"], 1),
                    "seconds": round(step["end"] - step["start"], 1), "status": step["status"]})
    out += _lab_up_phases(lines, check_at if check_at is not None else end)
    if check_at is not None:
        out.append({"step": "5/5", "what": "lab check", "start": round(check_at, 1),
                    "seconds": round(end - check_at, 1),
                    "status": "done" if rc == 0 else "FAILED"})
    return out


def _lab_up_phases(lines: list[tuple[float, str]], end: float) -> list[dict]:
    """Inside 5/5 lab up: the images' build (`lab: building images ...` until `images
    ready`), each image's own (built side by side: from that start until its `lab: image
    X built (i/n, ...)`), then `starting containers` until healthy."""
    out = []
    building = starting = None
    for at, line in lines:
        if line.startswith(("lab: building images", "lab: building image ")):
            building = at
        elif building is not None and (
                match := re.match(r"lab: image (\S+) built \((\d+/\d+)", line)):
            out.append({"step": "5/5", "what": f"image {match.group(1)} ({match.group(2)})",
                        "start": round(building, 1), "seconds": round(at - building, 1),
                        "status": "done"})
        elif line.startswith("lab: images ready") and building is not None:
            out.append({"step": "5/5", "what": "images, side by side",
                        "start": round(building, 1), "seconds": round(at - building, 1),
                        "status": "done"})
        elif line.startswith("lab: starting containers"):
            starting = at
        elif CHECK_BEGINS.match(line.strip()):
            break
    if starting is not None:
        out.append({"step": "5/5", "what": "start, until all healthy",
                    "start": round(starting, 1), "seconds": round(end - starting, 1),
                    "status": "done"})
    return out


class LoadSampler:
    """The 1-minute load average and the busy share of all cores, every `every` s."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.samples: list[tuple[float, float]] = []     # (load1, busy %)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        busy0, total0 = cpu_seconds()
        while not self._stop.wait(self.every):
            busy1, total1 = cpu_seconds()
            load1 = float(Path("/proc/loadavg").read_text().split()[0])
            self.samples.append((load1, 100.0 * (busy1 - busy0) / max(1e-9, total1 - total0)))
            busy0, total0 = busy1, total1

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def clean_clone(source: Path, dest: Path) -> str:
    """`git clone SOURCE DEST` (SOURCE's checked-out branch, committed state only);
    returns the commit."""
    subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True)
    return subprocess.run(["git", "-C", str(dest), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _sigterm(_signum, _frame):
    raise KeyboardInterrupt("SIGTERM")


def run(report, source: Path = REPO) -> dict:
    """The whole measurement; prints as it goes and returns the figures (also written
    to RESULTS, the log to LOG)."""
    previous = signal.signal(signal.SIGTERM, _sigterm)
    name = f"lab-bench-fresh-{os.getpid()}-{secrets.token_hex(3)}"
    result: dict = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                    "machine": {"cores": os.cpu_count(), "uptime_before": _uptime()}}
    print(f"fresh machine: load before: {result['machine']['uptime_before']}", flush=True)
    removed = remove_leftovers()
    if removed:
        print(f"fresh machine: removed leftovers of killed runs: {', '.join(removed)}")
    gateway = bridge_gateway()
    relay = Relay(gateway)
    tmp = Path(tempfile.mkdtemp(prefix="lab-fresh-"))
    try:
        relay.start()
        pip_proxy = f"http://{gateway}:{relay.port}"
        commit = clean_clone(source, tmp / "lab")
        pip_cert = host_pip_cert()
        result.update(source=str(source), commit=commit, pip_proxy=pip_proxy, container=name,
                      pip_cert=str(pip_cert) if pip_cert else None)
        print(f"fresh machine: {name} from {IMAGE}, clean clone of {source} at {commit}; "
              f"pip through the relay {pip_proxy} (CONNECT to "
              f"{', '.join(h for h, _ in sorted(ALLOWED))} only)"
              + (f", trusting this host's CA bundle {pip_cert} (PIP_CERT)" if pip_cert else ""),
              flush=True)
        with open(LOG, "w") as log, LoadSampler() as load:
            log.write(f"fresh machine {name}, {IMAGE}, clone of {source} at {commit}, "
                      f"PIP_PROXY={pip_proxy}\nload before: {result['machine']['uptime_before']}\n")
            started = time.monotonic()
            start_machine(name, pip_proxy, pip_cert)
            result["boot_s"] = round(time.monotonic() - started, 1)
            rc, seconds, lines = _timed_exec(name, STANDARD_INSTALL, log, "standard install",
                                             1800)
            standard = next((line for _, line in lines
                             if line.startswith("standard install:")), "")
            result["preinstalled"] = {"seconds": round(seconds, 1), "exit": rc,
                                      "packages": standard.split(":", 2)[-1].split()}
            report("fresh machine: pre-install (Debian 12 standard set, not timed in total)",
                   seconds, "s")
            if rc:
                raise FreshMachineError(f"the standard install failed (exit {rc}); see {LOG}")
            _docker("cp", f"{tmp / 'lab'}", f"{name}:/root/lab")
            rc, seconds, _ = _timed_exec(name, PRELUDE, log, ".ci/run prelude", 900)
            result["prelude_s"] = round(seconds, 1)
            report("fresh machine: make + python3-venv (.ci/run's prelude)", seconds, "s")
            if rc:
                raise FreshMachineError(f"the prelude failed (exit {rc}); see {LOG}")
            print("fresh machine: make lab-up ...", flush=True)
            result["uptime_at_make"] = _uptime()
            rc, seconds, lines = _timed_exec(name, "cd /root/lab && time make lab-up", log,
                                             "make lab-up", MAKE_TIMEOUT)
            result["make_exit"] = rc
            result["make_lab_up_s"] = round(seconds, 1)
            result["steps"] = parse_steps(lines, seconds, rc)
            result["uptime_after"] = _uptime()
            if rc:
                tail = _docker("exec", name, "tail", "-n", "30", "/var/log/lab-dockerd.log",
                               check=False)
                log.write("\n===== /var/log/lab-dockerd.log (tail)\n" + tail.stdout + tail.stderr)
        result["load_during"] = {
            "load1_max": max((s[0] for s in load.samples), default=None),
            "busy_pct_mean": round(sum(s[1] for s in load.samples) / len(load.samples), 1)
            if load.samples else None}
        result["relay"] = {"tunnels": relay.tunnels, "mbytes": round(relay.bytes / 1e6, 1),
                           "refused": relay.refused}
        print_result(report, result)
        return result
    finally:
        relay.stop()
        left = teardown(name)
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
        result["left_behind"] = left
        if "make_lab_up_s" in result:
            result["history"] = _history(result)
            RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"fresh machine: torn down (container, volume, relay, clone); left behind: "
              f"{', '.join(left) or 'nothing'}; log: {LOG}", flush=True)


def print_result(report, result: dict, prefix: str = "fresh machine") -> None:
    for step in result.get("steps", []):
        status = "" if step["status"] == "done" else f" {step['status']}"
        what = re.split(r"[:(]", step["what"])[0].strip() if step["what"].startswith(
            ("host", "Python", "Kerberos")) else step["what"]
        indent = "  " if step["what"].startswith(("image ", "start,")) else ""
        report(f"{prefix}: {indent}[{step['step']} {what}] from {step['start']:.0f} s{status}",
               step["seconds"], "s")
    status = "lab check passed" if result.get("make_exit") == 0 else \
        f"FAILED, exit {result.get('make_exit')}"
    report(f"{prefix}: make lab-up total ({status}; goal {GOAL:.0f})",
           result.get("make_lab_up_s", float("nan")), "s")
    if "prelude_s" in result:
        report(f"{prefix}: with .ci/run's prelude (make, python3-venv)",
               result["make_lab_up_s"] + result["prelude_s"], "s")
    relay = result.get("relay")
    if relay:
        tunnels = ", ".join(f"{h} {n}" for h, n in sorted(relay["tunnels"].items()))
        print(f"{prefix}: pip went through the host's relay: {tunnels or 'no'} tunnels, "
              f"{relay['mbytes']} MB; refused: {relay['refused'] or 'none'}")
    during = result.get("load_during") or {}
    if during:
        print(f"{prefix}: host load before: {result['machine']['uptime_before']}; during: "
              f"1-min load up to {during['load1_max']}, cores {during['busy_pct_mean']} % "
              f"busy on average")


#: how many runs' totals the record keeps (the goal is judged on the last three)
HISTORY = 10


def _history(result: dict) -> list[dict]:
    """The recorded runs' totals, this one last (runs whose lab check passed only)."""
    try:
        history = json.loads(RESULTS.read_text()).get("history", [])
    except (OSError, ValueError):
        history = []
    if result.get("make_exit") == 0:
        history.append({"date": result["date"], "commit": result["commit"],
                        "make_lab_up_s": result["make_lab_up_s"]})
    return history[-HISTORY:]


def report_last(report) -> None:
    """`make bench`: the figures of the last fresh run (bench/fresh_machine_last.json),
    and min / median / max of the last three runs' totals."""
    try:
        result = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        print("fresh machine: no fresh run recorded (`python -m bench fresh` takes minutes)")
        return
    print(f"fresh machine, last run {result['date']} at {result['commit']} "
          f"(`python -m bench fresh --runs=3` to measure again):")
    print_result(report, result, prefix="  last fresh run")
    last = result.get("history", [])[-3:]
    if last:
        totals = [run["make_lab_up_s"] for run in last]
        commits = ", ".join(sorted({run["commit"] for run in last}))
        what = f"fresh machine: make lab-up, last {len(last)} runs ({commits})"
        report(f"{what} (min)", min(totals), "s")
        report(f"{what} (median)", statistics.median(totals), "s")
        report(f"{what} (max)", max(totals), "s")


def main(argv: list[str]) -> int:
    source = next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--source=")), REPO)
    runs = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--runs=")), 1)
    failed = False
    for _ in range(runs):
        failed |= run(report, source).get("make_exit") != 0
    report_last(report)
    return 1 if failed else 0
