"""A lab's own passwords, when it is published beyond loopback.

The packaged lab.toml's passwords are public (they are in this repository): fine on
127.0.0.1, where only this machine reaches the lab, but not on a network. So a lab
published on any other address gets, for every password the packaged file sets and
the project's own lab.toml does not (the domain Administrator's, each user's), one
generated for it: made once, kept in `<state dir>/passwords.json` (0600), the same
across `lab up` and `lab down`. `lab status --json`, `lab config --show-secrets` and
`lab env` show them, as they show any password.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from lab.config.schema import samba_password_problem
from lab.errors import ConfigError

PASSWORDS_FILE = "passwords.json"
ADMINISTRATOR = "Administrator"


def set_by_project(own: dict[str, Any]) -> set[str]:
    """The accounts whose password the project's own lab.toml sets."""
    names = set()
    domain = own.get("domain")
    if isinstance(domain, dict) and "admin_password" in domain:
        names.add(ADMINISTRATOR)
    for entry in own.get("users") or []:
        if isinstance(entry, dict) and "password" in entry:
            names.add(entry.get("name"))
    return names


def with_generated_passwords(document: dict[str, Any], own: dict[str, Any],
                             state_dir: Path) -> dict[str, Any]:
    """`document` with a generated password for each account `own` sets none for."""
    accounts = [ADMINISTRATOR, *(user["name"] for user in document["users"])]
    kept = set_by_project(own)
    passwords = stored_passwords(state_dir, [name for name in accounts if name not in kept])
    result = copy.deepcopy(document)
    if ADMINISTRATOR in passwords:
        result["domain"]["admin_password"] = passwords[ADMINISTRATOR]
    for user in result["users"]:
        if user["name"] in passwords:
            user["password"] = passwords[user["name"]]
    return result


def stored_passwords(state_dir: Path, accounts: list[str]) -> dict[str, str]:
    """account -> its password, made for the accounts that have none yet. Two `lab`
    commands at once agree: the file is read and extended under a lock."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / PASSWORDS_FILE
    with open(state_dir / f".{PASSWORDS_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            stored = {}
        except ValueError as exc:
            raise ConfigError(f"{path} is not readable ({exc}): remove it, and the next "
                              "`lab up` makes new passwords") from None
        if not isinstance(stored, dict) or not all(
                isinstance(v, str) for v in stored.values()):
            raise ConfigError(f"{path} is not a passwords file: remove it, and the next "
                              "`lab up` makes new passwords")
        missing = [name for name in accounts if name not in stored]
        if missing:
            stored.update({name: new_password(name) for name in missing})
            _write_private(path, json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return {name: stored[name] for name in accounts}


def new_password(account: str) -> str:
    """Random, and within Samba's default policy (three character classes, 7 or
    more characters, not containing the account's name)."""
    while True:
        password = f"{secrets.token_urlsafe(15)}-Q7"
        if samba_password_problem(account, password) is None:
            return password


def _write_private(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as out:      # mkstemp: 0600 from the start
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
