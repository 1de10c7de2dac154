"""Servers and protocols the tidy-server tests share, under trial and under pytest."""

from twisted.internet import defer, protocol
from twisted.spread import pb


class Echoer(pb.Root):
    def remote_say(self, sentence):
        return f"Echoed: {sentence}"


class NullProtocol(protocol.Protocol):
    """Drops the connection as soon as it is made (the seed's port detector)."""

    def connectionMade(self):
        self.transport.loseConnection()


class PortDetectFactory(protocol.ClientFactory):
    """The seed's detector: is something listening?"""

    protocol = NullProtocol

    def __init__(self):
        self.d = defer.Deferred()

    def is_listening(self):
        return self.d

    def buildProtocol(self, addr):
        p = protocol.ClientFactory.buildProtocol(self, addr)
        if not self.d.called:
            self.d.callback(True)
        return p
