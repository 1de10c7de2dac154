"""lab.web.server as the plugin's `lab_mock_web_server` fixture uses it (construct, use,
`stop()`), under pytest-twisted and the plugin's reactor-cleanliness check."""

import json

import pytest
import pytest_twisted
import treq
from twisted.internet import error, protocol

from lab.mockweb import SAMPLE_RESOURCE, MockWebServer, NotListeningError


@pytest.fixture
def web():
    """The fixture's own pattern: constructor listens, stop() in teardown."""
    server = MockWebServer("127.0.0.1")
    yield server
    pytest_twisted.blockon(server.stop())


@pytest_twisted.inlineCallbacks
def test_constructed_server_serves_at_once(web):
    response = yield treq.get(web.get_url() + "simpleresource", persistent=False)
    assert response.code == 200
    assert (yield response.content()) == SAMPLE_RESOURCE


@pytest_twisted.inlineCallbacks
def test_root_and_recording(web):
    response = yield treq.get(web.get_url(), headers={"Accept": "application/json"},
                              persistent=False)
    assert response.code == 200
    assert "/_lab/requests" in [r["path"] for r in (yield response.json())["resources"]]
    yield (yield treq.get(web.get_url() + "matrix/r/s", persistent=False)).content()
    response = yield treq.get(web.get_url() + "_lab/requests?prefix=/matrix/r/",
                              persistent=False)
    assert [r["path"] for r in json.loads((yield response.content()))["requests"]] == [
        "/matrix/r/s"]


@pytest_twisted.inlineCallbacks
def test_taken_port_is_catchable_and_leaves_the_reactor_clean():
    from twisted.internet import reactor

    blocker = reactor.listenTCP(0, protocol.Factory.forProtocol(protocol.Protocol),
                                interface="127.0.0.1")
    try:
        server = MockWebServer("127.0.0.1", https_port=blocker.getHost().port)
        with pytest.raises(error.CannotListenError, match=str(blocker.getHost().port)):
            yield server.listening()
        with pytest.raises(NotListeningError):
            server.get_url()
        yield server.stop()
    finally:
        yield blocker.stopListening()
    # The plugin's teardown check fails this test if the HTTP listener survived.
