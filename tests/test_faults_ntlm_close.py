"""The `ntlm_close` toxic on byte streams as squid writes them, cut every way."""

import random

import pytest
from twisted.internet.task import Clock

from lab.faults.schema import Toxic
from lab.faults.toxics import make_stage

BODY = b"<html>407</html>"
OFFER = (b"HTTP/1.1 407 Proxy Authentication Required\r\nServer: squid\r\n"
         b"Proxy-Authenticate: NTLM\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n"
         % len(BODY)) + BODY
CHALLENGE = OFFER.replace(b"Proxy-Authenticate: NTLM\r\n",
                          b"Proxy-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n")
CONTENT = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class Sink:
    def __init__(self):
        self.out, self.ended = b"", None

    def data(self, chunk):
        assert self.ended is None, "data after the end"
        self.out += chunk

    def eof(self, full):
        self.ended = full


def run(stream: bytes, leg: int, cut: int | None = None) -> Sink:
    stage = make_stage(Toxic("t", "ntlm_close", attributes={"leg": leg}), None, Clock(),
                       random.Random(0))
    stage.next = sink = Sink()
    step = cut or len(stream)
    for start in range(0, len(stream), step):
        stage.data(stream[start:start + step])
    return sink


@pytest.mark.parametrize("cut", [None, 1, 7])
def test_leg_1_closes_after_the_offer_whole_with_connection_close(cut):
    sink = run(OFFER + CHALLENGE, leg=1, cut=cut)
    head, _, body = sink.out.partition(b"\r\n\r\n")
    assert body == BODY and sink.ended is True                 # the offer whole, then the end
    assert b"Connection: keep-alive" not in head
    assert b"\r\nConnection: close\r\nProxy-Connection: close" in head
    assert b"Proxy-Authenticate: NTLM\r\n" in head + b"\r\n"


@pytest.mark.parametrize("cut", [None, 1, 7])
def test_leg_2_passes_the_offer_and_closes_after_the_challenge(cut):
    sink = run(OFFER + CHALLENGE + CONTENT, leg=2, cut=cut)
    assert sink.out.startswith(OFFER) and sink.ended is True
    assert sink.out.endswith(BODY) and b"TlRMTVNTUAACAAAA" in sink.out
    assert b"HTTP/1.1 200" not in sink.out


def test_after_the_first_other_response_the_stream_passes_untouched():
    tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n" + b"\x16\x03\x01 tls" + OFFER
    sink = run(CHALLENGE + tunnel, leg=1, cut=3)
    assert sink.out == CHALLENGE + tunnel and sink.ended is None


def test_a_leg_never_seen_changes_nothing():
    sink = run(CHALLENGE + CONTENT, leg=1)       # curl --proxy-ntlm: type-1 at once
    assert sink.out == CHALLENGE + CONTENT and sink.ended is None
