"""Requests per second with lab.proxy through the corporate-network ports (issue 12),
HTTPS only, next to `noauth` HTTPS through CONNECT (the ratios' denominator):

- `bump` re-signing web.<domain> (the client trusts the corporate CA): TLS is
  terminated twice, client-squid and squid-origin, and squid handles each request
  as HTTP in between;
- `bump` splicing bank.<domain> (bump_exempt): squid peeks at the client's hello,
  then tunnels as `noauth` does;
- `socks` (dante, username/password, names resolved by dante).

Each keep-alive (one agent for all requests), one at a time and `CONCURRENT` at
once, and with a new connection per request (a new agent each time: every TLS
handshake, CONNECT or SOCKS negotiation paid per request), which is where bumping
costs most. `proxy conns per 100 req` says how many connections each agent
opened to the proxy (keep-alive evidence; a CONNECT tunnel or SOCKS connection
carries one origin connection). The cases are interleaved over `ROUNDS` rounds
and the best rate of each counts (a shared host's load bursts skew single runs).

Measures the lab that is up as it is (even if `lab up` would rebuild it); with
none up, brings one up and takes it down after, as `python -m bench proxy` does.
Run alone with `python -m bench corpnet`.
"""

from __future__ import annotations

from twisted.internet import defer, endpoints, task
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

from bench.proxy_requests import CONCURRENT, concurrent_rate
from bench.rate import WARM_UP, rate
from lab.proxy import Credentials, ProxyAgent, ProxyWebClient, SOCKSAgent, load_trust_root
from lab.stack.lifecycle import Stack

NEW_CONNECTION_COUNT = 200
ROUNDS = 3


@implementer(IStreamClientEndpoint)
class _Counting:
    """An endpoint to the proxy that counts the connections opened through it."""

    def __init__(self, endpoint):
        self._endpoint = endpoint
        self.opened = 0

    def connect(self, factory):
        self.opened += 1
        return self._endpoint.connect(factory)


def run(report, count: int = 1000, rounds: int = ROUNDS) -> None:
    stack = Stack()
    was_up = stack.is_up()
    lab = stack.endpoints() if was_up else stack.up()
    web, domain = lab.web, lab.dc.domain
    web_ca = load_trust_root(web.ca_cert)
    corporate_ca = load_trust_root(lab.corporate_ca)
    socks = lab.proxy["socks"]
    # name: (label, base URL, port, trust root)
    cases = {
        "noauth": ("noauth HTTPS", web.https_proxy_url, "noauth", web_ca),
        "bump": ("bump HTTPS re-signed", web.https_proxy_url, "bump", corporate_ca),
        "spliced": ("bump HTTPS spliced", f"https://bank.{domain}/", "bump", web_ca),
        "socks": ("socks HTTPS", web.https_proxy_url, "socks", web_ca),
    }
    modes = {"seq": "keep-alive, sequential", "conc": f"keep-alive, {CONCURRENT} concurrent",
             "new": "new connection per request"}

    def make(reactor, port, trust_root):
        settings = lab.proxy[port]
        counter = _Counting(endpoints.HostnameEndpoint(reactor, settings.address or settings.host,
                                                       settings.port, timeout=10))
        if port == "socks":
            agent = SOCKSAgent(reactor, socks.host, socks.port,
                               Credentials(socks.username, socks.password), endpoint=counter,
                               trust_root=trust_root)
        else:
            agent = ProxyAgent(reactor, settings.host, settings.port, endpoint=counter,
                               trust_root=trust_root)
        return ProxyWebClient(agent=agent, reactor=reactor), counter

    @defer.inlineCallbacks
    def measure(reactor, name, mode):
        """(requests/s, proxy connections opened per 100 requests) of one run."""
        _, base, port, trust_root = cases[name]
        url = base + "simpleresource"
        if mode == "new":
            @defer.inlineCallbacks
            def fresh():
                client, _ = make(reactor, port, trust_root)
                try:
                    yield client.get_page(url)
                finally:
                    yield client.shutdown()

            return (yield rate(fresh, NEW_CONNECTION_COUNT)), 100.0
        client, counter = make(reactor, port, trust_root)
        try:
            timing = rate if mode == "seq" else concurrent_rate
            per_second = yield timing(lambda: client.get_page(url), count)
        finally:
            yield client.shutdown()
        return per_second, counter.opened * 100 / (count + WARM_UP)

    @defer.inlineCallbacks
    def main(reactor):
        # rounds interleave the cases, and the best of each counts: this host is shared,
        # and a burst of someone else's load must not decide a ratio
        rates, opened = {}, {}
        for _ in range(rounds):
            for mode in modes:
                for name in cases:
                    per_second, connections = yield measure(reactor, name, mode)
                    rates[name, mode] = max(per_second, rates.get((name, mode), 0))
                    opened[name, mode] = connections
        for mode, mode_label in modes.items():
            for name, (label, *_) in cases.items():
                report(f"lab.proxy {label}, {mode_label}", rates[name, mode], "req/s")
            for name in list(cases)[1:]:
                report(f"  {name} / noauth HTTPS, {mode_label}",
                       rates[name, mode] / rates["noauth", mode], "ratio")
        for name in cases:
            for mode in ("seq", "conc"):
                report(f"  {name}: proxy conns per 100 req, {modes[mode]}",
                       opened[name, mode], "conn")
        for name in list(cases)[1:]:
            report(f"  {name}: ms more than noauth per new connection",
                   1000 / rates[name, "new"] - 1000 / rates["noauth", "new"], "ms")

    try:
        task.react(main)
    finally:
        if not was_up:
            stack.down()
