"""Tidy server cycles per second: listen, connect, one PB call, full clean-up.

Beside each transport, the same cycle written by hand with raw Twisted
endpoints and explicit waits on each connectionLost: the floor.
"""

from __future__ import annotations

from twisted.internet import defer, endpoints, task
from twisted.spread import pb

from bench.rate import rate
from lab.tidy.servers import TidyTCPServer, TidyTLSServer, TidyUnixServer


class Echoer(pb.Root):
    def remote_say(self, sentence):
        return sentence


class _WatchedBroker(pb.Broker):
    def connectionLost(self, reason):
        super().connectionLost(reason)
        self.factory.lost.callback(None)


class _ServerFactory(pb.PBServerFactory):
    protocol = _WatchedBroker

    def __init__(self, root):
        super().__init__(root)
        self.lost = defer.Deferred()


class _ClientFactory(pb.PBClientFactory):
    protocol = _WatchedBroker

    def __init__(self):
        super().__init__()
        self.lost = defer.Deferred()


@defer.inlineCallbacks
def raw_tcp_cycle(reactor):
    server = _ServerFactory(Echoer())
    port = yield endpoints.TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(server)
    client = _ClientFactory()
    broker = yield endpoints.TCP4ClientEndpoint(
        reactor, "127.0.0.1", port.getHost().port).connect(client)
    root = yield client.getRootObject()
    yield root.callRemote("say", "x")
    broker.transport.loseConnection()
    yield defer.gatherResults([port.stopListening(), client.lost, server.lost])


@defer.inlineCallbacks
def tidy_cycle(server_class):
    server = server_class()
    yield server.listen_server(pb.PBServerFactory, Echoer())
    factory = yield server.connect_client(pb.PBClientFactory)
    root = yield factory.getRootObject()
    yield root.callRemote("say", "x")
    yield server.clean_up()


def run(report, cycles: int = 1000) -> None:
    what = "listen+connect+PB call+clean-up"

    @defer.inlineCallbacks
    def main(reactor):   # task.react() exits the process when this fires: report inside
        per_second = yield rate(lambda: raw_tcp_cycle(reactor), cycles)
        report(f"raw TCP endpoints, hand-written (floor): {what}", per_second, "cycles/s")
        for name, cls in [("TCP", TidyTCPServer), ("Unix", TidyUnixServer),
                          ("TLS", TidyTLSServer)]:
            per_second = yield rate(lambda cls=cls: tidy_cycle(cls), cycles)
            report(f"tidy {name}: {what}", per_second, "cycles/s")

    task.react(main)
