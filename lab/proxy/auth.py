"""`ProxyAuthAgent`: proxy authentication as an `IAgent` wrapper.

In the spirit of `twisted.web.client`'s decorators (`RedirectAgent`,
`CookieAgent`) and treq's `add_auth`: it wraps the agent that talks to the
proxy and adds what authentication needs. One difference, and why: NTLM's legs
(and CONNECT's 407s) must run on the very connection the request holds, which
`IAgent.request` cannot express. So instead of re-sending requests itself, the
wrapper gives each request its own `AuthExchange` (`exchange=`), and the wrapped
agent (a `ProxyTransportAgent`) runs that exchange's legs on its connection.

What requests share is only the `AuthMemory` (the scheme that worked).
"""

from __future__ import annotations

from twisted.web import iweb
from zope.interface import implementer

from lab.proxy.challenges import Credentials
from lab.proxy.exchange import AuthExchange, AuthMemory
from lab.proxy.schemes import DEFAULT_SCHEMES, Factory


@implementer(iweb.IAgent)
class ProxyAuthAgent:
    """Answer the proxy's 407s for requests sent through `agent`.

    `service_host` is the proxy's name in its Kerberos principal (HTTP/<name>);
    `schemes` the answerable schemes in order of preference (see
    `lab.proxy.schemes`)."""

    def __init__(self, agent, credentials: Credentials | None = None, *,
                 service_host: str = "", schemes: dict[str, Factory] = DEFAULT_SCHEMES):
        self._agent = agent
        self._credentials = credentials
        self._service_host = service_host
        self._schemes = schemes
        self.memory = AuthMemory()

    def __repr__(self) -> str:
        return f"ProxyAuthAgent({self._agent!r}, {self._credentials!r})"

    def request(self, method, uri, headers=None, bodyProducer=None):
        what = f"{method.decode('latin-1')} {uri.decode('latin-1')}"
        exchange = AuthExchange(self.memory, self._credentials, self._service_host,
                                getattr(self._agent, "name", "proxy"), what, self._schemes)
        return self._agent.request(method, uri, headers, bodyProducer, exchange=exchange)
