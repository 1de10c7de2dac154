"""The Python API of the fault server: sync (urllib), or Deferreds (twisted.web Agent).

Both clients share one list of calls; each call is a (method, path, body,
parse) and only the transport differs, so the two can never drift apart.
The module-level `add`, `list`, `clear` and `parse_attributes` are what
`lab fault add PORT TOXIC [attr=value...] [--upstream]`, `lab fault list` and
`lab fault clear` call; they raise `FaultRequestError` (one line, for a person) on
bad input, and `FaultAPIError` when the server refuses.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from lab.faults.schema import ATTRIBUTES, DOWNSTREAM, UPSTREAM, FaultRequestError, parse_assignments

#: Where the API is unless told: $LAB_FAULTS_API, else Toxiproxy's default port.
DEFAULT_URL = "http://127.0.0.1:8474"
TIMEOUT = 5.0


def default_url() -> str:
    return os.environ.get("LAB_FAULTS_API", DEFAULT_URL)


class FaultAPIError(Exception):
    """The server answered with an error: its status and Toxiproxy's message."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


def _parse(status: int, raw: bytes) -> Any:
    if status >= 400:
        try:
            message = json.loads(raw)["error"]
        except (ValueError, KeyError, TypeError):
            message = raw.decode("utf-8", "replace").strip()
        raise FaultAPIError(status, message)
    return json.loads(raw) if raw.strip() else None


def _q(name: str) -> str:
    return quote(name, safe="")


class _Calls:
    """Every API call, built once; `_call` (the transport) is the subclass's."""

    def _call(self, method: str, path: str, body: Any = None,
              parse: Callable[[Any], Any] = lambda x: x) -> Any:
        raise NotImplementedError

    def version(self):
        return self._call("GET", "/version", parse=lambda j: j["version"])

    def proxies(self):
        """{name: proxy JSON} with each proxy's toxics."""
        return self._call("GET", "/proxies")

    def proxy(self, name: str):
        return self._call("GET", f"/proxies/{_q(name)}")

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0",
                     enabled: bool = True):
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return self._call("POST", "/proxies", body)

    def update_proxy(self, name: str, **fields: Any):
        """Fields among `listen`, `upstream`, `enabled`."""
        return self._call("POST", f"/proxies/{_q(name)}", fields)

    def enable(self, name: str):
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str):
        """Down: the port refuses connections and open ones are closed."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str):
        return self._call("DELETE", f"/proxies/{_q(name)}")

    def populate(self, proxies: Iterable[Mapping[str, Any]]):
        return self._call("POST", "/populate", [dict(p) for p in proxies],
                          parse=lambda j: j["proxies"])

    def toxics(self, proxy: str):
        return self._call("GET", f"/proxies/{_q(proxy)}/toxics")

    def toxic(self, proxy: str, name: str):
        return self._call("GET", f"/proxies/{_q(proxy)}/toxics/{_q(name)}")

    def add_toxic(self, proxy: str, type: str, attributes: Mapping[str, int] | None = None,
                  stream: str = DOWNSTREAM, toxicity: float = 1.0, name: str | None = None):
        """The toxic as created (its name defaults to `<type>_<stream>`)."""
        body = {"type": type, "stream": stream, "toxicity": toxicity,
                "attributes": dict(attributes or {})}
        if name:
            body["name"] = name
        return self._call("POST", f"/proxies/{_q(proxy)}/toxics", body)

    def update_toxic(self, proxy: str, name: str, attributes: Mapping[str, int] | None = None,
                     toxicity: float | None = None):
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return self._call("POST", f"/proxies/{_q(proxy)}/toxics/{_q(name)}", body)

    def remove_toxic(self, proxy: str, name: str):
        return self._call("DELETE", f"/proxies/{_q(proxy)}/toxics/{_q(name)}")

    def connections(self, since: int = 0):
        """The connection events numbered after `since` (a lab extension:
        `lab.faults.journal`): `{"events": [...], "first": F, "last": N}`."""
        return self._call("GET", f"/connections?since={int(since)}")

    def reset(self):
        """Every proxy enabled, every toxic gone."""
        return self._call("POST", "/reset")


class FaultClient(_Calls):
    """Blocking calls (urllib): for scripts, the CLI, and tests that are not Twisted's."""

    def __init__(self, url: str | None = None, timeout: float = TIMEOUT):
        self.url, self.timeout = (url or default_url()).rstrip("/"), timeout

    def _call(self, method, path, body=None, parse=lambda x: x):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return parse(_parse(status, raw))


class AsyncFaultClient(_Calls):
    """The same calls returning Deferreds, on `twisted.web.client.Agent`. Pass a
    persistent `HTTPConnectionPool` and close it in clean-up to keep trial happy."""

    def __init__(self, url: str | None = None, reactor=None, pool=None,
                 timeout: float = TIMEOUT):
        from twisted.web.client import Agent

        if reactor is None:
            from twisted.internet import reactor
        self.url, self.reactor, self.timeout = (url or default_url()).rstrip("/"), reactor, timeout
        self.agent = Agent(reactor, pool=pool, connectTimeout=timeout)

    def _call(self, method, path, body=None, parse=lambda x: x):
        from twisted.web.client import readBody
        from twisted.web.http_headers import Headers

        producer = None if body is None else _Bytes(json.dumps(body).encode())
        d = self.agent.request(method.encode(), (self.url + path).encode(),
                               Headers({b"content-type": [b"application/json"]}), producer)
        d.addTimeout(self.timeout, self.reactor)
        d.addCallback(lambda response: readBody(response).addCallback(
            lambda raw: _parse(response.code, raw)))
        return d.addCallback(parse)


class _Bytes:
    """A body producer for a small JSON body: written whole at once, so no
    cooperator timers are left behind (a clean reactor in tests)."""

    def __init__(self, body: bytes):
        self.body, self.length = body, len(body)

    def startProducing(self, consumer):
        from twisted.internet import defer

        consumer.write(self.body)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


# What the `lab fault` CLI calls.

def parse_attributes(toxic_type: str, assignments: Iterable[str]) -> dict[str, int]:
    """`["latency=100"]` → `{"latency": 100}`, checked against the toxic's schema."""
    return parse_assignments(toxic_type, assignments)


def resolve(port: str | int, proxies: Mapping[str, Mapping[str, Any]]) -> str:
    """The proxy that `port` names: its name (`web`), the name with `proxy_`
    (`basic` → `proxy_basic`), or a number matching one listen (else upstream) port."""
    text = str(port)
    for candidate in (text, f"proxy_{text}"):
        if candidate in proxies:
            return candidate
    if text.isdigit():
        for field in ("listen", "upstream"):
            hits = [n for n, p in proxies.items() if p[field].rpartition(":")[2] == text]
            if len(hits) == 1:
                return hits[0]
    known = ", ".join(sorted(proxies)) or "none"
    raise FaultRequestError(f"no fault proxy for port {text!r} (proxies: {known})")


def add(port: str | int, toxic_type: str, attributes: Mapping[str, int] | Iterable[str] = (),
        upstream: bool = False, toxicity: float = 1.0, name: str | None = None,
        *, url: str | None = None) -> dict:
    """Add a toxic to the proxy for `port`; `attributes` a dict, or `attr=value` strings."""
    if toxic_type not in ATTRIBUTES:
        raise FaultRequestError(f"unknown toxic {toxic_type!r} (known: {', '.join(ATTRIBUTES)})")
    if not isinstance(attributes, Mapping):
        attributes = parse_attributes(toxic_type, attributes)
    else:
        parse_attributes(toxic_type, [f"{k}={v}" for k, v in attributes.items()])
    if not 0.0 <= toxicity <= 1.0:
        raise FaultRequestError(f"toxicity must be from 0 to 1, got {toxicity}")
    client = FaultClient(url)
    proxy = resolve(port, client.proxies())
    return client.add_toxic(proxy, toxic_type, attributes, UPSTREAM if upstream else DOWNSTREAM,
                            toxicity, name)


def list(*, url: str | None = None) -> Any:  # noqa: A001 - the CLI's verb
    """Every proxy (name, listen, upstream, enabled, toxics), sorted by name."""
    proxies = FaultClient(url).proxies()
    return [proxies[name] for name in sorted(proxies)]


def clear(*, url: str | None = None) -> None:
    """Everything healthy again: all proxies up, no toxics (one POST /reset)."""
    FaultClient(url).reset()
