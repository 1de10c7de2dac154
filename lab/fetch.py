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
    """(status, [(header, value)], body) of GET `url` through proxy port `via`.

    For `negotiate`, a ticket for the user is fetched first into a private cache
    (as `lab ad kinit` does), and the proxy is called by its principal's name
    while connecting to its address.
    """
    proxy = endpoints["proxy"][via]
    if username is None and "username" in proxy:
        username, password = proxy["username"], proxy["password"]
    address = proxy.get("address")
    if via == "negotiate":
        use_ticket(endpoints, username, password)
        username = password = None                  # Negotiate from the ticket cache
    client = ProxyWebClient(proxy["host"], proxy["port"], username, password,
                            proxy_address=address, trust_root=trust_root_for(endpoints, url))
    try:
        response, body = await client.request(url, follow_redirects=False)
    finally:
        await client.shutdown()
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, values in response.headers.getAllRawHeaders() for value in values]
    return response.code, headers, body


def use_ticket(endpoints: dict, username: str, password: str) -> None:
    """kinit into a private cache and point this process's Kerberos at it."""
    import os

    from lab.ad import kinit

    kdc = endpoints["dc"]["kerberos"]
    session = kinit(username, password, endpoints["dc"]["realm"], kdc["host"], kdc["port"])
    os.environ.update(session.env)
