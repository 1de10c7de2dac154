"""lab.tidy.servers under pytest-twisted, through the plugin's fixtures and reactor check."""

import pytest
import pytest_twisted
from twisted.internet import defer, protocol
from twisted.spread import pb

from lab.tidy.servers import TidyTCPServer, TidyTLSServer, TidyUnixServer
from tests.tidy_protocols import Echoer, PortDetectFactory


@pytest.fixture(params=["tidy_tcp_server", "tidy_unix_server", "tidy_tls_server"])
def server(request):
    return request.getfixturevalue(request.param)


@pytest_twisted.inlineCallbacks
def test_pb_call(server):
    yield server.listen_server(pb.PBServerFactory, Echoer())
    factory = yield server.connect_client(pb.PBClientFactory)
    root = yield factory.getRootObject()
    assert (yield root.callRemote("say", "hi")) == "Echoed: hi"


@pytest_twisted.inlineCallbacks
def test_client_drops_in_connection_made(server):
    yield server.listen_server(protocol.ServerFactory)
    yield server.connect_client(PortDetectFactory)


@pytest_twisted.inlineCallbacks
def test_server_never_built_a_protocol(server):
    yield server.listen_server(protocol.ServerFactory)
    server.listener.stopReading()
    yield server.connect_client(PortDetectFactory)


@pytest_twisted.inlineCallbacks
def test_several_clients_and_double_clean_up(server):
    yield server.listen_server(pb.PBServerFactory, Echoer())
    for _ in range(3):
        yield server.connect_client(pb.PBClientFactory)
    yield defer.gatherResults([server.clean_up(), server.clean_up()])
    assert server.connections == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("server_class,cycles", [
    (TidyTCPServer, 300), (TidyUnixServer, 300), (TidyTLSServer, 150)])
@pytest_twisted.inlineCallbacks
def test_stress(server_class, cycles):
    for number in range(cycles):
        server = server_class()
        yield server.listen_server(pb.PBServerFactory, Echoer())
        factory = yield server.connect_client(pb.PBClientFactory)
        root = yield factory.getRootObject()
        assert (yield root.callRemote("say", number)) == f"Echoed: {number}"
        yield server.clean_up()
