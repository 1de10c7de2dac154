"""HTTP(S) through a proxy, from Twisted: what `twisted.web.client.ProxyAgent` lacks
(proxy authentication, HTTPS through CONNECT)."""

from lab.proxy.agent import ProxyAgent
from lab.proxy.challenges import Challenge, Credentials, parse_challenges
from lab.proxy.client import ProxyWebClient
from lab.proxy.environment import ProxySettings, proxy_from_environment
from lab.proxy.errors import (
    OriginError,
    ProxyAuthenticationError,
    ProxyError,
    ProxyForbiddenError,
    ProxyTunnelError,
    ProxyUnreachableError,
    RequestTimeoutError,
)

__all__ = [
    "Challenge", "Credentials", "OriginError", "ProxyAgent", "ProxyAuthenticationError",
    "ProxyError", "ProxyForbiddenError", "ProxySettings", "ProxyTunnelError",
    "ProxyUnreachableError", "ProxyWebClient", "RequestTimeoutError",
    "parse_challenges", "proxy_from_environment",
]
