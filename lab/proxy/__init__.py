"""HTTP(S) through a proxy, from Twisted: what `twisted.web.client.ProxyAgent` lacks
(proxy authentication, HTTPS through CONNECT), holding under concurrent use.

`ProxyAgent` = `ProxyAuthAgent` (per-request authentication, an IAgent wrapper)
around `ProxyTransportAgent` (the wire: keep-alive connections, CONNECT tunnels).
Every error is a `ProxyError` (see `lab.proxy.errors`); the scheme order is in
`lab.proxy.schemes`.

SOCKS5 (`SOCKS5Endpoint`, `SOCKSAgent`: RFC 1928 + 1929, names resolved by the
proxy) and a proxy per URL from a PAC file (`PACAgent`, `lab.proxy.pac`) give
the same errors. `OriginTLSError` names the issuer of a refused certificate
(a TLS-inspecting proxy's CA, see `lab.proxy.trust`).
"""

from lab.proxy.agent import ProxyAgent
from lab.proxy.auth import ProxyAuthAgent
from lab.proxy.challenges import Challenge, Credentials, parse_challenges
from lab.proxy.client import ProxyWebClient
from lab.proxy.environment import ProxySettings, proxy_from_environment
from lab.proxy.errors import (
    OriginError,
    OriginTLSError,
    PACError,
    ProxyAuthenticationError,
    ProxyConnectionLostError,
    ProxyError,
    ProxyForbiddenError,
    ProxyProtocolError,
    ProxyTunnelError,
    ProxyUnreachableError,
    RequestTimeoutError,
    SOCKSConnectError,
)
from lab.proxy.pac import PAC, Route, fetch_pac
from lab.proxy.pacagent import DirectAgent, PACAgent
from lab.proxy.schemes import PREFERENCE
from lab.proxy.socks import SOCKS5Endpoint
from lab.proxy.socksagent import SOCKS5EndpointFactory, SOCKSAgent
from lab.proxy.transport import ProxyTransportAgent
from lab.proxy.trust import load_trust_root
from lab.proxy.tunnel import TunnelEndpoint

__all__ = [
    "PAC", "PREFERENCE", "Challenge", "Credentials", "DirectAgent", "OriginError",
    "OriginTLSError", "PACAgent", "PACError", "ProxyAgent", "Route", "fetch_pac",
    "ProxyAuthAgent", "ProxyAuthenticationError", "ProxyConnectionLostError", "ProxyError",
    "ProxyForbiddenError", "ProxyProtocolError", "ProxySettings", "ProxyTransportAgent",
    "ProxyTunnelError", "ProxyUnreachableError", "ProxyWebClient", "RequestTimeoutError",
    "SOCKS5Endpoint", "SOCKS5EndpointFactory", "SOCKSAgent", "SOCKSConnectError",
    "TunnelEndpoint", "load_trust_root", "parse_challenges", "proxy_from_environment",
]
