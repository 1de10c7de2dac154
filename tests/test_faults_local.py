"""Each toxic observed from a real client: curl through `python -m lab.faults` in
front of lab.web.server. NEEDS ONLY 127.0.0.1 (and curl): no lab, no Docker.

Outcomes are curl's exit codes and timings: latency adds at least its value,
reset_peer is exit 56 (RST), limit_data truncates, timeout 0 stalls until
curl's own --max-time (exit 28), a proxy down refuses (exit 7). Each test
starts from a reset server, so order does not matter and repeats are identical.
"""

import hashlib
import re
import time

import pytest

from harness.processes import curl, start_faults, start_origin, stop
from lab.faults import client
from lab.faults.client import FaultClient


@pytest.fixture(scope="module")
def local_faults():
    origin, origin_address = start_origin()
    try:
        faults, ready = start_faults(("web", origin_address))
        try:
            yield origin_address, ready
        finally:
            stop(faults)
    finally:
        stop(origin)


@pytest.fixture
def api(local_faults):
    api = FaultClient("http://" + local_faults[1]["api"])
    api.reset()
    yield api
    api.reset()


@pytest.fixture
def web(local_faults):
    """The base URL through the fault proxy."""
    return "http://" + local_faults[1]["proxies"]["web"]


def test_fault_free_the_same_bytes_as_direct(api, web, local_faults):
    direct = curl(f"http://{local_faults[0]}/large?bytes=300000")
    through = curl(f"{web}/large?bytes=300000")
    assert (through.exit, through.status, through.size) == (0, 200, 300000)
    assert hashlib.sha256(through.body).digest() == hashlib.sha256(direct.body).digest()


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_adds_at_least_its_value(api, web, stream):
    api.add_toxic("web", "latency", {"latency": 300}, stream=stream)
    result = curl(f"{web}/simpleresource")
    assert (result.exit, result.status) == (0, 200)
    assert result.seconds >= 0.3


def test_toxicity_zero_never_applies(api, web):
    api.add_toxic("web", "latency", {"latency": 2000}, toxicity=0.0)
    assert curl(f"{web}/simpleresource", max_time=1.5).exit == 0


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_reset_peer_is_curl_56(api, web, stream):
    api.add_toxic("web", "reset_peer", {"timeout": 0}, stream=stream)
    result = curl(f"{web}/simpleresource")
    assert result.exit == 56
    assert "Connection reset by peer" in result.stderr


def test_reset_peer_after_its_timeout(api, web):
    api.add_toxic("web", "reset_peer", {"timeout": 300})
    result = curl(f"{web}/simpleresource")
    assert (result.exit, result.seconds >= 0.3) == (56, True)


def test_limit_data_truncates(api, web):
    api.add_toxic("web", "limit_data", {"bytes": 1000})
    result = curl(f"{web}/large?bytes=100000")
    assert result.exit == 18        # "transfer closed with outstanding read data remaining"
    assert 0 < result.size < 1000


def test_timeout_zero_stalls_until_the_clients_max_time(api, web):
    api.add_toxic("web", "timeout", {"timeout": 0})
    result = curl(f"{web}/simpleresource", max_time=1.0)
    # curl rounds its elapsed time up to the ms when it checks --max-time, so its
    # time_total may read 0.9993; its own message states the ms it waited.
    assert result.exit == 28
    waited = re.search(r"timed out after (\d+) milliseconds with 0 bytes received", result.stderr)
    assert waited and int(waited.group(1)) >= 1000, result.stderr


def test_timeout_closes_after_its_value(api, web):
    api.add_toxic("web", "timeout", {"timeout": 300})
    result = curl(f"{web}/simpleresource", max_time=5.0)
    assert (result.exit, result.seconds >= 0.3) == (52, True)     # empty reply


def test_bandwidth_paces_the_body(api, web):
    api.add_toxic("web", "bandwidth", {"rate": 100})         # 100 KB/s: 50 kB take 0.5 s
    result = curl(f"{web}/large?bytes=50000")
    assert (result.exit, result.size, result.seconds >= 0.5) == (0, 50000, True)


def test_slicer_keeps_every_byte(api, web, local_faults):
    api.add_toxic("web", "slicer", {"average_size": 100, "size_variation": 50, "delay": 100})
    result = curl(f"{web}/large?bytes=20000")
    direct = curl(f"http://{local_faults[0]}/large?bytes=20000")
    assert (result.exit, result.body) == (0, direct.body)


def test_slow_close_delays_the_close(api, web):
    api.add_toxic("web", "slow_close", {"delay": 400})
    result = curl(f"{web}/large?bytes=1000", "--http1.0")     # the body ends at the close
    assert (result.exit, result.size, result.seconds >= 0.4) == (0, 1000, True)


def test_down_refuses_then_up_serves(api, web):
    api.disable("web")
    assert curl(f"{web}/simpleresource").exit == 7
    api.enable("web")
    assert curl(f"{web}/simpleresource").exit == 0


def test_cli_functions_add_list_clear(api, web, local_faults):
    url = "http://" + local_faults[1]["api"]
    made = client.add("web", "latency", ["latency=250"], upstream=True, url=url)
    assert made["name"] == "latency_upstream"
    assert [t["name"] for t in client.list(url=url)[0]["toxics"]] == ["latency_upstream"]
    assert curl(f"{web}/simpleresource").seconds >= 0.25
    started = time.monotonic()
    client.clear(url=url)
    assert time.monotonic() - started < 1.0
    assert client.list(url=url)[0]["toxics"] == []


def test_toxiproxy_python_drives_it_unchanged(api, web, local_faults):
    """Toxiproxy's own Python client (PyPI toxiproxy-python 0.1.1), as published."""
    import toxiproxy  # a test dependency: missing is a failure
    from toxiproxy.api import APIConsumer

    host, port = local_faults[1]["api"].split(":")
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer(host, int(port))
    try:
        assert server.running() and b"version" in server.version()
        proxy = server.get_proxy("web")
        assert (proxy.upstream, proxy.enabled) == (local_faults[0], True)
        proxy.add_toxic(type="latency", attributes={"latency": 300})
        assert list(proxy.toxics()) == ["latency_downstream"]
        assert curl(f"{web}/simpleresource").seconds >= 0.3
        assert proxy.destroy_toxic("latency_downstream")
        with proxy.down():
            assert curl(f"{web}/simpleresource").exit == 7
        assert curl(f"{web}/simpleresource").exit == 0
        extra = server.create(upstream=local_faults[0], name="extra")   # listen 127.0.0.1:0
        assert curl(f"http://{extra.listen}/simpleresource").exit == 0
        with pytest.raises(toxiproxy.server.ProxyExists):
            server.create(upstream=local_faults[0], name="extra")
        assert server.destroy(extra)
        proxy.add_toxic(type="reset_peer", stream="upstream")
        assert curl(f"{web}/simpleresource").exit == 56
        assert server.reset()
        assert proxy.toxics() == {}
    finally:
        APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474
