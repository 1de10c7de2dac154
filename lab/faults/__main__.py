"""`python3 -m lab.faults`: the fault server, a process of its own (a container's command).

    python3 -m lab.faults --config proxies.json --api 0.0.0.0:8474
    python3 -m lab.faults --proxy web 127.0.0.1:18080 127.0.0.1:8080 --api 127.0.0.1:0

The config file is Toxiproxy's own (`toxiproxy-server -config`): a JSON array of
`{"name", "listen", "upstream", "enabled"?}`. Once every port is bound, one line
goes to stdout, JSON: `{"api": "host:port", "proxies": {name: listen, ...}}`
(port 0 resolved), so whoever started the process learns where everything is
by reading one line, without polling. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys

from lab.faults.schema import ApiError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m lab.faults", description=__doc__.split(
        "\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON array of {name, listen, upstream[, enabled]}")
    parser.add_argument("--proxy", nargs=3, action="append", default=[],
                        metavar=("NAME", "LISTEN", "UPSTREAM"),
                        help="one proxy: name, host:port to listen on, host:port to forward to")
    parser.add_argument("--api", default="127.0.0.1:8474",
                        help="host:port of the control API (Toxiproxy's 8474 by default)")
    parser.add_argument("--seed", type=int, help="seed the toxicity/jitter RNG (reproducible)")
    parser.add_argument("--upstream-net", action="append", type=ipaddress.ip_network,
                        metavar="CIDR", help="reach only upstreams in these networks (the "
                        "API refuses others with 403); default: anywhere, as Toxiproxy")
    parser.add_argument("--clients", type=_networks, metavar="CIDR,...",
                        help="admit only clients in these networks, on every proxy and the "
                        "API (others are closed at once, with a line in the log); default: "
                        "anyone, as Toxiproxy")
    return parser


def _networks(text: str) -> tuple:
    return tuple(ipaddress.ip_network(item.strip()) for item in text.split(",") if item.strip())


def load_specs(config: str | None, proxies: list[list[str]]) -> list[dict]:
    """The proxies to create: the config file's, then the `--proxy` ones."""
    specs: list[dict] = []
    if config:
        with open(config, encoding="utf-8") as file:
            specs = json.load(file)
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise ValueError(f"{config}: expected a JSON array of proxy objects")
    specs += [{"name": n, "listen": listen, "upstream": up} for n, listen, up in proxies]
    for spec in specs:
        if not spec.get("name") or not spec.get("upstream"):
            raise ValueError(f"proxy {spec!r} needs a name and an upstream")
    return specs


def serve(reactor, specs: list[dict], api: str, rng: random.Random | None = None,
          upstreams=None, clients=None):
    """Create the proxies and the API on `reactor`; returns (Proxies, API port)."""
    from lab.faults.api import site
    from lab.faults.proxy import Proxies, split_address

    proxies = Proxies(reactor, rng, tuple(upstreams) if upstreams else None,
                      tuple(clients) if clients else None)
    for spec in specs:
        proxies.create(spec["name"], spec.get("listen") or "127.0.0.1:0", spec["upstream"],
                       spec.get("enabled", True))
    host, port = split_address(api, default_host="0.0.0.0")
    listening = reactor.listenTCP(port, site(proxies), interface=host)
    return proxies, listening


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        specs = load_specs(args.config, args.proxy)
    except (OSError, ValueError) as error:
        print(f"lab.faults: {error}", file=sys.stderr)
        return 2
    from twisted.internet import reactor
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
        textFileLogObserver,
    )

    # warnings and errors only (an API error's traceback): not a line per connection
    globalLogBeginner.beginLoggingTo([FilteringLogObserver(
        textFileLogObserver(sys.stderr),
        [LogLevelFilterPredicate(defaultLogLevel=LogLevel.warn)])], redirectStandardIO=False)
    rng = random.Random(args.seed) if args.seed is not None else None
    try:
        proxies, listening = serve(reactor, specs, args.api, rng, args.upstream_net,
                                   args.clients)
    except ApiError as error:
        print(f"lab.faults: {error.message}", file=sys.stderr)
        return 1
    from lab.faults.proxy import join_address, split_address

    api_host = split_address(args.api, default_host="0.0.0.0")[0]
    ready = {"api": join_address(api_host, listening.getHost().port),
             "proxies": {name: p.listen for name, p in proxies.proxies.items()}}
    print(json.dumps(ready), flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", proxies.stop)
    reactor.run()
    return 0


if __name__ == "__main__":
    # The server relays TCP as bytes and serves its API over plain HTTP: Twisted's TLS
    # (pyOpenSSL, cryptography: ~60 ms of each start, the fault layer's and the one `lab
    # matrix` waits for) stays out of its process. Twisted goes without it.
    sys.modules.setdefault("OpenSSL", None)
    sys.exit(main())
