"""A small file-sync client: fetch a remote file into a local directory.

It does what corporate users need without a line of proxy code: requests reads
the proxy (`https_proxy`, `http_proxy`, `no_proxy`, credentials in the proxy URL)
and the CA bundle (`REQUESTS_CA_BUNDLE`) from the environment. So the lab tests
it by environment alone (`lab matrix`, the `lab_scenario` fixture).

    python sync_client.py URL DIRECTORY      # exit 0: synced; 1: failed (one line why)
"""

from __future__ import annotations

import os
import sys
import tempfile
import urllib.parse
from pathlib import Path

import requests


class SyncError(Exception):
    """The file could not be synced; the message says why."""


def target_name(url: str) -> str:
    """The local name for `url`: its last path segment (`index` for a bare host)."""
    name = Path(urllib.parse.urlsplit(url).path).name
    return name or "index"


def sync(url: str, directory: Path, timeout: float = 15) -> Path:
    """Download `url` into `directory`, replacing the local copy atomically (a reader
    never sees half a file); return its path."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise SyncError(f"{url}: {exc.__class__.__name__}: {exc}") from None
    if response.status_code != 200:
        raise SyncError(f"{url}: HTTP {response.status_code} {response.reason}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / target_name(url)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
    with os.fdopen(handle, "wb") as out:
        out.write(response.content)
    os.replace(temporary, target)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python sync_client.py URL DIRECTORY", file=sys.stderr)
        return 2
    try:
        path = sync(argv[0], Path(argv[1]))
    except SyncError as exc:
        print(f"sync-client: {exc}", file=sys.stderr)
        return 1
    print(f"sync-client: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
