"""The origin answers git, pip and npm as a forge, an index and a registry would
(`lab.web.packages`): each real client, run as docs/clients.md runs it
(harness.ecosystems), gets what it asked for from lab.web on 127.0.0.1, no proxy
between, and the origin records each of its requests."""

import io
import json
import os
import subprocess
import urllib.request
import zipfile

import pytest

from harness.ecosystems import command
from harness.processes import start_origin, stop
from lab.web import packages

PACKAGE_CLIENTS = {"git (ls-remote)": ["/info/refs", "/HEAD"],
                   "pip (download)": ["/simple/lab-probe/", "/simple/lab-probe/" +
                                      packages.WHEEL_NAME],
                   "npm (view)": ["/lab-probe"]}


@pytest.fixture(scope="module")
def origin():
    process, address = start_origin()
    yield address
    stop(process)


def seen(address: str, prefix: str) -> list[str]:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://{address}/_lab/requests?prefix={prefix}", timeout=10) as answer:
        return [r["path"] for r in json.load(answer)["requests"]]


@pytest.mark.parametrize("client", PACKAGE_CLIENTS)
def test_each_client_gets_its_package_from_the_origin(client, origin):
    token = f"/matrix/unit/{client.split()[0]}"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    argv = [a.replace("{url}", f"http://{origin}{token}") for a in command(client, "")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    paths = seen(origin, token)
    assert paths == [token + tail for tail in PACKAGE_CLIENTS[client]]


def test_the_wheel_is_one_pip_can_read():
    with zipfile.ZipFile(io.BytesIO(packages.WHEEL)) as wheel:
        metadata = wheel.read("lab_probe-1.0.dist-info/METADATA").decode()
        assert "Name: lab-probe" in metadata and "Version: 1.0" in metadata
        assert wheel.testzip() is None
    assert packages.WHEEL == packages._wheel()          # the same bytes every time


def test_other_paths_are_not_a_package_tools():
    assert packages.answer([]) is None
    assert packages.answer(["simple", "other"]) is None
    assert packages.answer(["info"]) is None


def test_a_question_to_the_origin_survives_a_path_appended_after_it(origin):
    """`{url}?status=503` given to git becomes `...?status=503/info/refs?service=...`:
    still a 503, not a bad query."""
    import urllib.error

    url = f"http://{origin}/matrix/unit/asked?status=503/info/refs?service=git-upload-pack"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(url, timeout=10)
    assert answer.value.code == 503
