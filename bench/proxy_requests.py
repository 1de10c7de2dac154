"""Requests per second with lab.proxy, keep-alive, through every proxy port, over
HTTP and HTTPS (CONNECT): one at a time, and `CONCURRENT` at once (how sync
daemons and crawlers use a proxy), next to a direct request to the web service
(the ceiling). Ratios are to `noauth` in the same mode: the cost of authenticating.
Run alone with `python -m bench proxy`."""

from __future__ import annotations

import time

from twisted.internet import defer, ssl, task
from twisted.web import client

from bench.rate import WARM_UP, rate
from lab.clients.fetch import kinit_into_environment
from lab.proxy import ProxyWebClient
from lab.stack.lifecycle import Stack

PORTS = ("noauth", "basic", "ldap", "group", "negotiate", "ntlm")
CONCURRENT = 10


@defer.inlineCallbacks
def concurrent_rate(operation, count: int, workers: int = CONCURRENT):
    """Operations per second with `workers` loops running `operation()` at once."""
    yield defer.gatherResults([operation() for _ in range(WARM_UP)])

    @defer.inlineCallbacks
    def worker(share):
        for _ in range(share):
            yield operation()

    started = time.perf_counter()
    yield defer.gatherResults([worker(count // workers) for _ in range(workers)])
    return (count // workers * workers) / (time.perf_counter() - started)


def _client(endpoints, port, trust_root):
    settings = endpoints.proxy[port]
    username, password = settings.username, settings.password
    if port == "negotiate":     # from a ticket, as single sign-on works
        kinit_into_environment(endpoints, username, password)
        username = password = None
    elif port == "ntlm":
        username = f"{endpoints.dc.workgroup}\\{username}"
    return ProxyWebClient(settings.host, settings.port, username, password,
                          proxy_address=settings.address, trust_root=trust_root)


def run(report, count: int = 1000) -> None:
    stack = Stack()
    was_up = stack.is_up()
    endpoints = stack.up()
    web = endpoints.web
    with open(web.ca_cert, "rb") as pem:
        trust_root = ssl.Certificate.loadPEM(pem.read())

    @defer.inlineCallbacks
    def main(reactor):
        pool = client.HTTPConnectionPool(reactor, persistent=True)
        agent = client.Agent(reactor, pool=pool)
        url = (web.url + "simpleresource").encode()
        direct = yield rate(lambda: agent.request(b"GET", url).addCallback(client.readBody),
                            count)
        yield pool.closeCachedConnections()
        rates = {}
        for port in PORTS:
            for scheme, base in (("http", web.proxy_url), ("https", web.https_proxy_url)):
                proxy = _client(endpoints, port, trust_root)

                def fetch(proxy=proxy, page=base + "simpleresource"):
                    return proxy.get_page(page)

                rates[port, scheme, "seq"] = yield rate(fetch, count)
                rates[port, scheme, "conc"] = yield concurrent_rate(fetch, count)
                yield proxy.shutdown()
        report("twisted Agent direct to web (no proxy, ceiling)", direct, "req/s")
        for scheme in ("http", "https"):
            for mode, label in (("seq", "sequential"), ("conc", f"{CONCURRENT} concurrent")):
                for port in PORTS:
                    report(f"lab.proxy {port} {scheme.upper()}, {label}",
                           rates[port, scheme, mode], "req/s")
                for port in PORTS[1:]:
                    goal = " (goal >= 0.80)" if mode == "conc" and port != "negotiate" else ""
                    report(f"  {port} / noauth {scheme.upper()} {label}{goal}",
                           rates[port, scheme, mode] / rates["noauth", scheme, mode], "ratio")

    try:
        task.react(main)
    finally:
        if not was_up:
            stack.down()
