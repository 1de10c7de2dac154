"""What package tools ask of an origin, answered under `/matrix/<run>/<scenario>/`, so that
git, npm and pip, the clients companies most often find broken behind their proxy, can
be run over the scenario catalogue like any other client (the request is recorded as
evidence all the same, `lab.web.records`):

- `.../info/refs` and `.../HEAD`: git's dumb HTTP protocol, one branch
  (`git ls-remote {url}`);
- `.../lab-probe`: npm's package document for `lab-probe` 1.0.0
  (`npm view --registry {url}/ lab-probe version`);
- `.../simple/lab-probe/`: a PEP 503 simple index naming one wheel, and that wheel,
  `.../simple/lab-probe/lab_probe-1.0-py3-none-any.whl`
  (`pip download --no-deps -d DIR --index-url {url}/simple lab-probe`).

Anything else under a scenario's path is the plain answer (`None` here).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile

PACKAGE = "lab-probe"
VERSION = "1.0.0"
#: a commit id git accepts as a ref's value (ls-remote never fetches the object)
COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
WHEEL_NAME = "lab_probe-1.0-py3-none-any.whl"


def _wheel() -> bytes:
    """A minimal valid wheel (pip reads its metadata), the same bytes every time."""
    files = {
        "lab_probe/__init__.py": b"",
        "lab_probe-1.0.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: lab-probe\nVersion: 1.0\n",
        "lab_probe-1.0.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: lab\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def record_line(name: str, data: bytes) -> str:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        return f"{name},sha256={digest.decode()},{len(data)}\n"

    record = "".join(record_line(n, d) for n, d in files.items())
    record += "lab_probe-1.0.dist-info/RECORD,,\n"
    files["lab_probe-1.0.dist-info/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


WHEEL = _wheel()
WHEEL_SHA256 = hashlib.sha256(WHEEL).hexdigest()


def answer(tail: list[str]) -> tuple[bytes, bytes] | None:
    """(content type, body) for the path after `/matrix/<run>/<scenario>/`, if it is
    a package tool's question."""
    if tail == ["info", "refs"]:
        return b"text/plain; charset=utf-8", f"{COMMIT}\trefs/heads/main\n".encode()
    if tail == ["HEAD"]:
        return b"text/plain; charset=utf-8", b"ref: refs/heads/main\n"
    if tail == [PACKAGE]:
        document = {"name": PACKAGE, "dist-tags": {"latest": VERSION},
                    "versions": {VERSION: {"name": PACKAGE, "version": VERSION}}}
        return b"application/json", json.dumps(document).encode()
    if tail in (["simple", PACKAGE], ["simple", PACKAGE, ""]):
        link = f'<a href="{WHEEL_NAME}#sha256={WHEEL_SHA256}">{WHEEL_NAME}</a>'
        return b"text/html; charset=utf-8", (
            f"<!DOCTYPE html><html><body>{link}</body></html>\n").encode()
    if tail == ["simple", PACKAGE, WHEEL_NAME]:
        return b"application/octet-stream", WHEEL
    return None
