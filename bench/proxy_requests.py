"""Requests per second with lab.proxy, sequential, keep-alive: through the noauth
and basic ports and direct to the web service (the ceiling)."""

from __future__ import annotations

from twisted.internet import defer, task
from twisted.web import client

from bench.rate import rate
from lab.fetch import use_ticket
from lab.proxy import ProxyWebClient
from lab.stack import Stack


def run(report, count: int = 1000) -> None:
    stack = Stack()
    was_up = stack.is_up()
    endpoints = stack.up()
    path = "simpleresource"

    @defer.inlineCallbacks
    def main(reactor):
        rates = {}
        pool = client.HTTPConnectionPool(reactor, persistent=True)
        agent = client.Agent(reactor, pool=pool)
        url = (endpoints["web"]["url"] + path).encode()
        rates["direct"] = yield rate(lambda: agent.request(b"GET", url).addCallback(
            client.readBody), count)
        yield pool.closeCachedConnections()
        ports = ("noauth", "basic", "ldap", "group", "negotiate", "ntlm")
        for port in ports:
            settings = endpoints["proxy"][port]
            username, password = settings.get("username"), settings.get("password")
            if port == "negotiate":   # from a ticket, as single sign-on works
                use_ticket(endpoints, username, password)
                username = password = None
            proxy = ProxyWebClient(settings["host"], settings["port"], username, password,
                                   proxy_address=settings.get("address"))
            rates[port] = yield rate(
                lambda proxy=proxy: proxy.get_page(endpoints["web"]["proxy_url"] + path), count)
            yield proxy.shutdown()
        report("twisted Agent direct to web (no proxy, ceiling)", rates["direct"], "req/s")
        for port in ports:
            report(f"lab.proxy through proxy {port}, keep-alive", rates[port], "req/s")
        for port in ports[1:]:
            goal = " (goal >= 0.80)" if port == "basic" else ""
            report(f"{port} / noauth{goal}", rates[port] / rates["noauth"], "ratio")

    try:
        task.react(main)
    finally:
        if not was_up:
            stack.down()
