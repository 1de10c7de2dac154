"""The generated PAC is valid JavaScript that three PAC engines nobody here wrote evaluate
the same way, branch by branch: pypac (dukpy), pactester (libpacparser1, SpiderMonkey)
and libproxy's `proxy` with its WebKit plugin (JavaScriptCore), on this host, where
the lab's names do not resolve. The lab-network branch (its DNS answering the DC's
name) is proved on the lab network: tests/integration/test_corpnet.py."""

import http.server
import signal
import subprocess
from functools import partial
from urllib.parse import urlsplit

import pytest
from pypac.parser import PACFile

from harness.localhttp import serving
from lab.config.discovery import load_config
from lab.stack.pac_file import pac_views

PUBLISHED = {"proxy_noauth": 13128, "proxy_corp": 13135}
FALLBACK = ("PROXY 127.0.0.1:13129", "DIRECT")
OTHERWISE = "PROXY 127.0.0.1:13130; DIRECT"
DIRECT_NAMES = ("intranet.corp.test", ".partner.test", "build-*.ad.example.com")


def branches(config) -> list[tuple[str, str, list[str]]]:
    """(what it exercises, URL, the routes every engine must answer)."""
    in_lab = str(config.subnet.network_address + 7)
    other = ["PROXY 127.0.0.1:13130", "DIRECT"]
    return [
        ("isPlainHostName", "http://intranet/", ["DIRECT"]),
        ("localhost", "http://localhost:8080/", ["DIRECT"]),
        ("isInNet loopback", "http://127.0.0.1:8080/x", ["DIRECT"]),
        ("isInNet the lab network", f"http://{in_lab}/", ["DIRECT"]),
        ("an address elsewhere", "http://192.0.2.1/", other),
        ("shExpMatch, a name", "http://intranet.corp.test/", ["DIRECT"]),
        ("shExpMatch, a pattern", "http://build-7.ad.example.com/", ["DIRECT"]),
        ("dnsDomainIs, a suffix", "http://a.partner.test/", ["DIRECT"]),
        ("outside the lab domain", "http://example.org/", other),
        ("dnsResolve and myIpAddress, off the lab network", "http://web.ad.example.com/x",
         ["PROXY 127.0.0.1:13128", "PROXY 127.0.0.1:13129"]),
        ("the lab domain itself", "https://ad.example.com/",
         ["PROXY 127.0.0.1:13128", "PROXY 127.0.0.1:13129"]),
        ("a route of its own: a dead proxy first", "http://failover.ad.example.com/",
         ["PROXY 127.0.0.1:1", "PROXY 127.0.0.1:13128", "PROXY 127.0.0.1:13129"]),
        ("a route of its own: the company proxy", "http://secure.ad.example.com/",
         ["PROXY 127.0.0.1:13135", "PROXY 127.0.0.1:13129"]),
    ]


def from_pac_value(value: str) -> list[str]:
    return [" ".join(entry.split()) for entry in value.split(";") if entry.strip()]


KEYWORDS = {"http": "PROXY", "socks5": "SOCKS5"}


def from_libproxy(line: str) -> list[str]:
    """libproxy prints `http://host:port direct://`: PAC entries again."""
    routes = []
    for proxy in line.split():
        scheme, _, address = proxy.partition("://")
        routes.append("DIRECT" if scheme == "direct" else f"{KEYWORDS[scheme]} {address}")
    return routes


@pytest.fixture
def pac(lab_root, tmp_path):
    config = load_config(lab_root, environ={"LAB_STATE_HOME": str(tmp_path)})
    text = pac_views(config, PUBLISHED, direct=DIRECT_NAMES, fallback=FALLBACK,
                     otherwise=OTHERWISE).host
    (tmp_path / "proxy.pac").write_text(text)
    return config, text, tmp_path / "proxy.pac"


@pytest.fixture
def pac_url(pac):
    """The PAC served over HTTP, as libproxy fetches it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args):
            pass

    with serving(partial(Quiet, directory=str(pac[2].parent))) as url:
        yield url + "proxy.pac"


def test_pypac_takes_every_branch(pac):
    config, text, _path = pac
    engine = PACFile(text)
    for what, url, routes in branches(config):
        assert from_pac_value(engine.find_proxy_for_url(url, urlsplit(url).hostname)) == \
            routes, what


def test_pactester_takes_every_branch_the_same_way(pac):
    config, _text, path = pac
    for what, url, routes in branches(config):
        answer = subprocess.run(["pactester", "-p", str(path), "-u", url],
                                capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0, (what, answer.stderr)
        assert from_pac_value(answer.stdout) == routes, what


def test_libproxy_webkit_takes_every_branch_the_same_way(pac, pac_url):
    config = pac[0]
    cases = branches(config)
    # libproxy's environment module: http_proxy=pac+URL names a PAC to run. libproxy 0.4
    # may crash as it exits, once it has answered (libproxy#209: JavaScriptCore's threads
    # still run as its module is unloaded; a few in a hundred under load): stdbuf flushes
    # each answer as it is printed, and the answers are the verdict
    answer = subprocess.run(["stdbuf", "-oL", "proxy"],
                            input="".join(url + "\n" for _w, url, _r in cases),
                            env={"PATH": "/usr/bin:/bin", "http_proxy": "pac+" + pac_url},
                            capture_output=True, text=True, timeout=60)
    assert answer.returncode in (0, -signal.SIGSEGV), answer.stderr
    lines = answer.stdout.splitlines()
    assert len(lines) == len(cases), answer.stdout + answer.stderr
    for (what, _url, routes), line in zip(cases, lines, strict=True):
        assert from_libproxy(line) == routes, (what, line)
