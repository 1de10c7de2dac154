"""`python3 -m lab.web --pac-file ... --pac-lab-file ... --lab-subnet ...`: what
the `web` container will run to serve the lab's PAC file, as a process."""

import urllib.request

from harness.processes import DEADLINE, stop, wait_for_line
from tests.test_mockweb_cli import _start

HOST_VIEW = 'function FindProxyForURL(u, h) { return "PROXY 127.0.0.1:13128"; }\n'
LAB_VIEW = 'function FindProxyForURL(u, h) { return "PROXY proxy.ad.example.com:3128"; }\n'


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=DEADLINE) as response:
        return response.headers["content-type"], response.read().decode()


def test_serves_the_view_for_the_client_address(tmp_path):
    (tmp_path / "host.pac").write_text(HOST_VIEW)
    (tmp_path / "lab.pac").write_text(LAB_VIEW)
    for gateway, expected in (("127.0.0.1", HOST_VIEW), ("127.0.0.2", LAB_VIEW)):
        process = _start("--port", "0", "--https-port", "0",
                         "--pac-file", str(tmp_path / "host.pac"),
                         "--pac-lab-file", str(tmp_path / "lab.pac"),
                         "--lab-subnet", "127.0.0.0/8", "--lab-gateway", gateway)
        try:
            http_url = wait_for_line(process, "serving").split()[-3]
            for path in ("proxy.pac", "wpad.dat"):
                assert _get(http_url + path) == ("application/x-ns-proxy-autoconfig",
                                                 expected)
        finally:
            stop(process)


def test_a_lab_view_without_a_subnet_is_a_usage_error(tmp_path):
    (tmp_path / "lab.pac").write_text(LAB_VIEW)
    process = _start("--pac-lab-file", str(tmp_path / "lab.pac"))
    output = process.communicate(timeout=DEADLINE)[0].decode()
    assert process.returncode == 2 and "--pac-lab-file needs" in output
