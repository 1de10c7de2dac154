"""`python -m lab.proxy URL`: fetch one URL with lab.proxy, configured as other clients
are, from the environment: `http_proxy`/`https_proxy`/`no_proxy` (an `http://` proxy,
or `socks5h://`), `auto_proxy` (a PAC file's URL, when no proxy variable is set; the
credentials for its proxies in `LAB_PROXY_USER` and `LAB_PROXY_PASSWORD`),
`SSL_CERT_FILE` (the CAs to trust), `KRB5CCNAME` (Negotiate's ticket). So
`lab matrix -- python -m lab.proxy {url}` holds lab.proxy to every scenario.

The body goes to standard output. Exit 0; 22 when the origin answers an error (as
`curl -f`); 28 when no complete answer comes within --timeout; 1 with one line on
standard error for anything the proxy refused or broke.
"""

from __future__ import annotations

import argparse
import os
import sys

from twisted.internet import defer, task

from lab.proxy.challenges import Credentials
from lab.proxy.client import ProxyWebClient
from lab.proxy.environment import proxy_from_environment
from lab.proxy.errors import OriginError, ProxyError, RequestTimeoutError

#: the exit code of each failure, most specific first (curl's, where curl has one)
EXIT_CODES = ((OriginError, 22), (RequestTimeoutError, 28), (ProxyError, 1))


async def _client(reactor, url: str, trust_root) -> ProxyWebClient:
    settings = proxy_from_environment(url)
    if settings is None and os.environ.get("auto_proxy"):
        return await ProxyWebClient.from_pac(
            os.environ["auto_proxy"], os.environ.get("LAB_PROXY_USER"),
            os.environ.get("LAB_PROXY_PASSWORD"), trust_root=trust_root, reactor=reactor)
    if settings is None:
        from lab.proxy.pacagent import DirectAgent

        return ProxyWebClient(reactor=reactor, agent=DirectAgent(reactor,
                                                                 trust_root=trust_root))
    credentials = (Credentials(settings.username, settings.password or "")
                   if settings.username is not None else None)
    if settings.scheme.startswith("socks5"):
        from lab.proxy.socksagent import SOCKSAgent

        return ProxyWebClient(reactor=reactor, agent=SOCKSAgent(
            reactor, settings.host, settings.port, credentials, trust_root=trust_root))
    return ProxyWebClient(settings.host, settings.port, settings.username, settings.password,
                          trust_root=trust_root, reactor=reactor)


async def _fetch(reactor, url: str, timeout: float) -> int:
    from lab.proxy.trust import load_trust_root

    bundle = os.environ.get("SSL_CERT_FILE")
    trust_root = load_trust_root(bundle) if bundle else None
    client = await _client(reactor, url, trust_root)
    try:
        body = await client.get_page(url, timeout=timeout)
    except (OriginError, ProxyError) as exc:
        print(f"lab.proxy: {exc}", file=sys.stderr)
        return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))
    finally:
        await client.shutdown()
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.proxy",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="seconds for the whole answer (default 30)")
    args = parser.parse_args(argv)
    codes: list[int] = []

    async def run(reactor):
        codes.append(await _fetch(reactor, args.url, args.timeout))

    try:
        task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return codes[0] if codes else 1


if __name__ == "__main__":
    sys.exit(main())
