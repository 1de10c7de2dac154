"""What a toxic is, as Toxiproxy's API spells it: types, attributes, JSON, errors.

Pure data and validation, no Twisted: the HTTP API, the Python client and the
CLI's `attr=value` parser all check input against the same table, so a typo is
rejected with the same one-line message wherever it is typed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

UPSTREAM, DOWNSTREAM = "upstream", "downstream"
STREAMS = (UPSTREAM, DOWNSTREAM)
#: seconds a closing connection may take before the layer aborts it: how long a client
#: of the journal may wait for a connection's close event (`lab.faults.link` enforces it)
CLOSE_GRACE = 1.0

#: Toxiproxy's toxic types and their attributes (every one an integer, default 0),
#: with the unit each is in: the schema the API and the CLI check input against;
#: then the lab's own.
ATTRIBUTES: dict[str, dict[str, str]] = {
    "latency": {"latency": "ms", "jitter": "ms"},
    "bandwidth": {"rate": "KB/s"},
    "slicer": {"average_size": "bytes", "size_variation": "bytes", "delay": "us"},
    "timeout": {"timeout": "ms, 0 = never close"},
    "reset_peer": {"timeout": "ms"},
    "limit_data": {"bytes": "bytes"},
    "slow_close": {"delay": "ms"},
    # the lab's own, HTTP-aware (lab.faults.ntlm_close): not in Toxiproxy
    "ntlm_close": {"leg": "1 = close after the 407 offering NTLM, 2 = after its type-2 "
                          "challenge"},
}


class ApiError(Exception):
    """An error the HTTP API answers with: Toxiproxy's message and status code."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


@dataclass(frozen=True)
class ErrorKind:
    """One of Toxiproxy's error values; calling it makes a fresh ApiError to raise,
    with a detail appended as Toxiproxy's `joinError` does. (Raising one shared
    instance again and again chains every raise's traceback, and every request in
    those frames, onto it: memory that grows with every refused request.)"""

    message: str
    status: int

    def __call__(self, detail: str | None = None) -> ApiError:
        return ApiError(self.message if detail is None else f"{self.message}: {detail}",
                        self.status)


# Toxiproxy's own error values (api.go), message for message.
BAD_REQUEST_BODY = ErrorKind("bad request body", 400)
MISSING_FIELD = ErrorKind("missing required field", 400)
PROXY_NOT_FOUND = ErrorKind("proxy not found", 404)
PROXY_EXISTS = ErrorKind("proxy already exists", 409)
INVALID_STREAM = ErrorKind("stream was invalid, can be either upstream or downstream", 400)
INVALID_TOXIC_TYPE = ErrorKind("invalid toxic type", 400)
TOXIC_EXISTS = ErrorKind("toxic already exists", 409)
TOXIC_NOT_FOUND = ErrorKind("toxic not found", 404)
#: Not Toxiproxy's (it relays anywhere): a fault server told which networks it may
#: reach (the lab's, in its container) refuses any other upstream.
UPSTREAM_REFUSED = ErrorKind("upstream outside the networks this fault server may reach", 403)

#: Bounds Toxiproxy leaves to its host's memory; here every request's cost is bounded,
#: so a runaway script gets a 400 instead of taking the fault layer down.
MAX_PROXIES = 1000
MAX_TOXICS = 100
MAX_NAME = 256
#: Toxiproxy's attributes are Go int64s: anything larger fails its JSON decoding.
MAX_ATTRIBUTE = 2**63 - 1
TOO_MANY_PROXIES = ErrorKind(f"a fault server holds at most {MAX_PROXIES} proxies", 400)
TOO_MANY_TOXICS = ErrorKind(f"a proxy holds at most {MAX_TOXICS} toxics", 400)


def check_name(name: Any, what: str) -> str:
    """A proxy's or toxic's name: a string of at most MAX_NAME characters."""
    if not isinstance(name, str):
        raise BAD_REQUEST_BODY(f"{what} must be a string")
    if len(name) > MAX_NAME:
        raise BAD_REQUEST_BODY(f"{what} is longer than {MAX_NAME} characters")
    return name


@dataclass(frozen=True)
class Toxic:
    """One toxic's settings. Frozen: an update makes a new Toxic, so a running
    stage never sees its attributes change under it."""

    name: str
    type: str
    stream: str = DOWNSTREAM
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """In Toxiproxy's field order (its ToxicWrapper struct)."""
        return {"attributes": dict(self.attributes), "name": self.name, "type": self.type,
                "stream": self.stream, "toxicity": self.toxicity}


def _check_attributes(kind: str, given: Any, base: Mapping[str, int]) -> dict[str, int]:
    """`base` updated with `given`; unknown names and non-integers are 400s.
    (Toxiproxy ignores unknown names; a lab is better off told about the typo.)"""
    if not isinstance(given, Mapping):
        raise BAD_REQUEST_BODY("attributes must be an object")
    known = ATTRIBUTES[kind]
    result = dict(base)
    for key, value in given.items():
        if key not in known:
            raise BAD_REQUEST_BODY(f"{kind} has no attribute {str(key)[:40]!r} "
                                          f"(known: {', '.join(known)})")
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value <= MAX_ATTRIBUTE:
            raise BAD_REQUEST_BODY(f"{kind} attribute {key!r} must be an integer "
                                   f"from 0 to {MAX_ATTRIBUTE}, got {str(value)[:40]}")
        result[key] = value
    if kind == "slicer":
        if result["average_size"] < 1:
            raise BAD_REQUEST_BODY("slicer average_size must be at least 1")
        if result["size_variation"] >= result["average_size"]:
            raise BAD_REQUEST_BODY("slicer size_variation must be below average_size")
    return result


def _check_toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise BAD_REQUEST_BODY(f"toxicity must be a number from 0 to 1, got {value!r}")
    return float(value)


def toxic_from_json(body: Any) -> Toxic:
    """A new Toxic from a `POST /proxies/{proxy}/toxics` body, checked in
    Toxiproxy's order: body, stream, default name, type, then attributes."""
    if not isinstance(body, Mapping):
        raise BAD_REQUEST_BODY("expected a JSON object")
    stream = body.get("stream") or DOWNSTREAM
    if stream not in STREAMS:
        raise INVALID_STREAM()
    kind = body.get("type")
    if not isinstance(kind, str):
        raise INVALID_TOXIC_TYPE()
    name = check_name(body.get("name") or f"{kind}_{stream}", "name")
    if kind not in ATTRIBUTES:
        raise INVALID_TOXIC_TYPE()
    defaults = dict.fromkeys(ATTRIBUTES[kind], 0)
    if kind == "slicer":    # a zero-byte slice would never end; the README's example size
        defaults["average_size"] = 1
    attributes = _check_attributes(kind, body.get("attributes") or {}, defaults)
    return Toxic(name, kind, stream, _check_toxicity(body.get("toxicity", 1.0)), attributes)


def toxic_updated(toxic: Toxic, body: Any) -> Toxic:
    """`toxic` after a `POST /proxies/{proxy}/toxics/{toxic}` body: attributes
    merge, toxicity replaces; name, type and stream stay (as in Toxiproxy)."""
    if not isinstance(body, Mapping):
        raise BAD_REQUEST_BODY("expected a JSON object")
    attributes = _check_attributes(toxic.type, body.get("attributes") or {}, toxic.attributes)
    toxicity = _check_toxicity(body.get("toxicity", toxic.toxicity))
    return replace(toxic, attributes=attributes, toxicity=toxicity)


class FaultRequestError(ValueError):
    """A fault asked for wrongly (an unknown toxic, attribute or port, a toxicity out of
    range): one line for a person. Not `lab.errors.UsageError`: the faults image copies
    only `lab/faults/`, so this package raises its own; `lab fault` turns it into lab's."""


def parse_assignments(kind: str, assignments: Iterable[str]) -> dict[str, int]:
    """`["latency=100", "jitter=10"]` → `{"latency": 100, "jitter": 10}`, checked
    against `kind`'s schema; every mistake is a FaultRequestError with a one-line message."""
    if kind not in ATTRIBUTES:
        raise FaultRequestError(f"unknown toxic {kind!r} (known: {', '.join(ATTRIBUTES)})")
    known = ATTRIBUTES[kind]
    result: dict[str, int] = {}
    for text in assignments:
        key, equals, value = text.partition("=")
        key = key.strip()
        if not equals or not key:
            raise FaultRequestError(f"{text!r} is not attr=value")
        if key not in known:
            raise FaultRequestError(f"{kind} has no attribute {key!r} (known: {', '.join(known)})")
        try:
            number = int(value.strip())
        except ValueError:
            raise FaultRequestError(f"{kind} {key} wants an integer ({known[key]}), "
                             f"got {value!r}") from None
        if number < 0:
            raise FaultRequestError(f"{kind} {key} must not be negative, got {number}")
        result[key] = number
    try:
        _check_attributes(kind, result, dict.fromkeys(known, 0) | (
            {"average_size": 1} if kind == "slicer" else {}))
    except ApiError as error:
        raise FaultRequestError(error.message.removeprefix("bad request body: ")) from None
    return result
