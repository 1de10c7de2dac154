"""trial base classes (`from lab.testcases import TCPPbServerTestCase`): the public
names of `lab.testing.trial`, where the code lives."""

from lab.testing.trial import (
    PbServerTestCase,
    ServerTestCase,
    SquidTestCase,
    TCPPbServerTestCase,
    TCPServerTestCase,
    TLSPbServerTestCase,
    TLSServerTestCase,
    UnixPbServerTestCase,
    UnixServerTestCase,
)

__all__ = ["PbServerTestCase", "ServerTestCase", "SquidTestCase", "TCPPbServerTestCase",
           "TCPServerTestCase", "TLSPbServerTestCase", "TLSServerTestCase",
           "UnixPbServerTestCase", "UnixServerTestCase"]
