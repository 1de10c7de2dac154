"""`lab fetch`: one request through a lab proxy port with lab.proxy, for exploring."""

from __future__ import annotations

from twisted.internet import ssl

from lab.proxy import ProxyWebClient


def trust_root_for(endpoints: dict, url: str):
    """The lab web service's CA for its own https URLs; system roots otherwise."""
    if url.startswith("https://"):
        with open(endpoints["web"]["ca_cert"], "rb") as pem:
            return ssl.Certificate.loadPEM(pem.read())
    return None


async def fetch(endpoints: dict, url: str, via: str, username: str | None = None,
                password: str | None = None):
    """(status, [(header, value)], body) of GET `url` through proxy port `via`."""
    proxy = endpoints["proxy"][via]
    if username is None and "username" in proxy:
        username, password = proxy["username"], proxy["password"]
    client = ProxyWebClient(proxy["host"], proxy["port"], username, password,
                            trust_root=trust_root_for(endpoints, url))
    try:
        response, body = await client.request(url, follow_redirects=False)
    finally:
        await client.shutdown()
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, values in response.headers.getAllRawHeaders() for value in values]
    return response.code, headers, body
