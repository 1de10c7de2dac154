"""A bounded, seeded fuzz pass over what a user's input reaches: the fault API
(Toxiproxy's), the mock web server's parametrised pages, lab.toml values and `lab`
arguments. The cases come from a seeded generator, so a failure names its case and
the next run repeats it; tests/test_fuzz.py asserts on the outcomes, bench measures
the servers' memory around them.

Every case is sent by a raw socket client with a deadline: a hang is an outcome
(`status None`), never a stuck test.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

DEADLINE = 5.0
#: What is read of an answer at most (`/large` may promise a GiB).
READ_LIMIT = 256 * 1024

#: Values of every JSON type that a field of the fault API might be given.
JSON_VALUES: tuple = (
    None, True, False, 0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), 10**30, 0.5, -0.0,
    1e308, "", "x", "127.0.0.1:0", "localhost:0", "0.0.0.0:0", ":0", "[::1]:0",
    "1.2.3.4:80", "127.0.0.1:99999", "127.0.0.1:-1", "169.254.169.254:80", "name:port",
    "a/b", "ü名\u202e", "x" * 300, "\x00", [], {}, [1, 2], {"a": 1}, {"latency": -5},
    {"latency": 10**20}, {"rate": "fast"}, {"nope": 1}, {"timeout": 1.5},
)
TOXIC_TYPES = ("latency", "bandwidth", "slicer", "timeout", "reset_peer", "limit_data",
               "slow_close", "LATENCY", "noop", "", "../latency")
NAMES = ("fuzz", "fuzz/slash", "ü名", "x" * 300, "", "..", "%00", "fuzz two")
RAW_BODIES: tuple[bytes, ...] = (
    b"", b"{", b"}", b"null", b"[]", b"[{}]", b"\xff\xfe\x00", b"NaN", b"[" * 20000,
    b'{"name": "deep", "upstream": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"1" * 5000, b'"' + b"a" * 100000 + b'"', b" " * (2 * 1024 * 1024),
)


@dataclass(frozen=True)
class Case:
    method: str
    target: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def page(self) -> str:
        """The path without its query and leading slash: `slow`, `matrix/run/case`."""
        return self.target.split("?")[0].lstrip("/")

    def __str__(self) -> str:
        body = self.body[:80] + (b"..." if len(self.body) > 80 else b"")
        return f"{self.method} {self.target[:120]} {body!r}"


@dataclass(frozen=True)
class Outcome:
    case: Case
    status: int | None        # None: no status line within the deadline
    body: bytes


#: Names the cases use again and again, so that later requests find earlier proxies.
LIVE_NAMES = ("fuzz", "fuzz2", "ü名", "a/b")
ATTRIBUTE_NAMES = ("latency", "jitter", "rate", "average_size", "size_variation", "delay",
                   "timeout", "bytes")


def _plausible(rng: random.Random, field: str, upstream: str):
    """A value of `field` that the API may well accept, so cases reach past validation."""
    return {
        "name": lambda: rng.choice(LIVE_NAMES),
        "listen": lambda: rng.choice(("127.0.0.1:0", "localhost:0")),
        "upstream": lambda: upstream,
        "enabled": lambda: rng.random() < 0.7,
        "type": lambda: rng.choice(TOXIC_TYPES[:7]),
        "stream": lambda: rng.choice(("upstream", "downstream")),
        "toxicity": lambda: rng.choice((0, 0.5, 1)),
        "attributes": lambda: {rng.choice(ATTRIBUTE_NAMES): rng.choice((0, 1, 50, 2**63 - 1))},
    }[field]()


def _json_object(rng: random.Random, fields: tuple[str, ...], upstream: str) -> bytes:
    body = {}
    for name in rng.sample(fields, rng.randint(0, len(fields))):
        if rng.random() < 0.6:
            body[name] = _plausible(rng, name, upstream)
        elif name == "type":
            body[name] = rng.choice(TOXIC_TYPES)
        elif name == "name":
            body[name] = rng.choice(NAMES + JSON_VALUES[:6])
        else:
            body[name] = rng.choice(JSON_VALUES)
    return json.dumps(body).encode()


def fault_api_cases(rng: random.Random, count: int, upstream: str) -> list[Case]:
    """`count` random requests to the fault API (proxies made relay to `upstream`),
    then the ones that must always be there: a thousand toxics on one proxy, bodies
    too big, nested too deep."""
    proxy_fields = ("name", "listen", "upstream", "enabled")
    toxic_fields = ("name", "type", "stream", "toxicity", "attributes")
    cases = []
    for _ in range(count):
        name = quote(rng.choice(LIVE_NAMES * 3 + NAMES), safe="")
        toxic = quote(rng.choice(NAMES + TOXIC_TYPES + tuple(
            f"{kind}_{stream}" for kind in TOXIC_TYPES[:7] for stream in ("upstream",
                                                                          "downstream"))),
                      safe="")
        target, fields, methods = rng.choice((
            ("/proxies", proxy_fields, "GET POST"),
            (f"/proxies/{name}", proxy_fields, "GET POST PATCH DELETE"),
            (f"/proxies/{name}/toxics", toxic_fields, "GET POST"),
            (f"/proxies/{name}/toxics", toxic_fields, "POST"),
            (f"/proxies/{name}/toxics/{toxic}", toxic_fields, "GET POST PATCH DELETE"),
            ("/populate", proxy_fields, "POST"), ("/reset", (), "POST"),
            ("/version", (), "GET"), (f"/{name}/../proxies", (), "GET"),
            ("/proxies?" + "a=1&" * 500, (), "GET"),
        ))
        method = rng.choice(methods.split()) if rng.random() < 0.85 else rng.choice(
            ("GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "X" * 100))
        shape = rng.random()
        if shape < 0.15:
            body = rng.choice(RAW_BODIES)
        elif target == "/populate" and shape < 0.8:
            body = b"[" + b",".join(_json_object(rng, fields, upstream)
                                   for _ in range(rng.randint(0, 4))) + b"]"
        else:
            body = _json_object(rng, fields or proxy_fields, upstream)
        cases.append(Case(method, target, body))
    cases.append(Case("POST", "/proxies", json.dumps(
        {"name": "many", "upstream": "127.0.0.1:9", "enabled": False}).encode()))
    cases += [Case("POST", "/proxies/many/toxics", json.dumps(
        {"name": f"t{n}", "type": "latency", "attributes": {"latency": n}}).encode())
        for n in range(1000)]
    cases += [Case("POST", "/proxies", b"[" * 900000),
              Case("POST", "/populate", b" " * (64 * 1024 * 1024)),
              Case("POST", "/proxies", b"{}", (("Transfer-Encoding", "chunked"),))]
    return cases


#: The mock web server's parametrised pages and the arguments they read.
ORIGIN_PAGES = (("slow", "seconds"), ("large", "bytes"), ("status", "code"),
                ("redirect", "to"), ("reset", "after"), ("stall", "seconds"),
                ("slow-headers", "seconds"), ("matrix/run/case", "status"),
                ("matrix/run/case", "bytes"), ("_lab/requests", "prefix"),
                ("headers", "x"), ("simpleresource", "x"))
#: Pages that answer late by design, when given a valid number of seconds.
LATE_PAGES = ("slow", "stall", "slow-headers")
QUERY_VALUES = ("abc", "-1", "-0", "nan", "inf", "-inf", "1e400", "1e-400",
                "1000000000000", "10**12", "%FF", "%00", "", "0x10", "1_0", "\u0663",
                "1" * 5000, "%E2%80%AE", "/" * 3000, "http://169.254.169.254/",
                "%0d%0aSet-Cookie:%20x=1", "0", "1", "0.01", "16384", "16385", "599", "600")


def origin_cases(rng: random.Random, count: int) -> list[Case]:
    """`count` requests to the origin's parametrised pages with hostile arguments,
    then long and many headers and a long request line."""
    cases = []
    for _ in range(count):
        page, argument = rng.choice(ORIGIN_PAGES)
        value = rng.choice(QUERY_VALUES)
        if not value.startswith("%") and "%" not in value:
            value = quote(value, safe="")
        # the second value goes unquoted, raw bytes and all, as a careless client sends it
        cases.append(Case(rng.choice(("GET", "GET", "HEAD", "POST")),
                          f"/{page}?{argument}={value}&{argument}={rng.choice(QUERY_VALUES)}"))
    cases += [Case("GET", "/headers", b"", (("X-Long", "a" * 70000),)),
              Case("GET", "/headers", b"", tuple((f"X-{n}", "v") for n in range(2000))),
              Case("GET", "/simpleresource?" + "a" * 100000),
              Case("POST", "/headers", b"x" * (8 * 1024 * 1024))]
    return cases


def send(address: tuple[str, int], case: Case, deadline: float = DEADLINE) -> Outcome:
    """`case` over a fresh connection, Connection: close; the status and up to
    READ_LIMIT bytes of the answer. A reset or a close without a status line is
    status 0; no status line within `deadline`, None."""
    head = [f"{case.method} {case.target} HTTP/1.1", f"Host: {address[0]}:{address[1]}",
            "User-Agent: lab-fuzz", "Connection: close"]
    head += [f"{name}: {value}" for name, value in case.headers]
    chunked = any(n.lower() == "transfer-encoding" for n, _ in case.headers)
    if chunked:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(case.body), case.body)
    else:
        body = case.body
        head.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body
    answer = b""
    end = time.monotonic() + deadline
    try:
        with socket.create_connection(address, timeout=deadline) as connection:
            try:
                connection.sendall(data)
            except OSError:
                pass                # refused mid-body (a 413): the answer may be there
            while len(answer) < READ_LIMIT and (left := end - time.monotonic()) > 0:
                connection.settimeout(left)
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except TimeoutError:
        if not answer.startswith(b"HTTP/"):
            return Outcome(case, None, answer)
    except OSError:
        pass
    status_line = answer.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    head, _, rest = answer.partition(b"\r\n\r\n")
    if b"\r\ntransfer-encoding: chunked" in head.lower():
        rest = _dechunk(rest)
    return Outcome(case, status, rest)


def _dechunk(data: bytes) -> bytes:
    """A chunked body's data, as far as it is complete."""
    body = b""
    while True:
        size, found, data = data.partition(b"\r\n")
        try:
            length = int(size.split(b";")[0], 16)
        except ValueError:
            return body
        if not found or length == 0:
            return body
        body, data = body + data[:length], data[length + 2:]


def run(address: tuple[str, int], cases: list[Case]) -> Iterator[Outcome]:
    for case in cases:
        yield send(address, case)


def run_origin(address: tuple[str, int], cases: list[Case], workers: int = 16) -> list[Outcome]:
    """The origin's cases, `workers` at once; a page that answers late on purpose
    (LATE_PAGES) is given 1 s before its outcome is "no answer"."""
    def one(case: Case) -> Outcome:
        return send(address, case, deadline=1.0 if case.page in LATE_PAGES else DEADLINE)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, cases))


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def rss_kib(pid: int) -> int:
    """The process's resident memory now, KiB (Linux)."""
    return _status_kib(pid, "VmRSS")


def reset_peak(pid: int) -> None:
    """Start the process's peak resident memory (`peak_kib`) afresh from now (Linux:
    clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")


def peak_kib(pid: int) -> int:
    """The process's peak resident memory since start or `reset_peak`, KiB."""
    return _status_kib(pid, "VmHWM")


def address(text: str) -> tuple[str, int]:
    """`host:port` or a URL -> (host, port)."""
    host, _, port = text.split("//")[-1].split("/")[0].rpartition(":")
    return host, int(port)


#: A case whose body is this large is refused while it is still being sent: the
#: answer may be the 413 or the connection's end.
REFUSED_WHILE_SENT = 32 * 1024 * 1024
