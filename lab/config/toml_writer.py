"""Write a lab.toml document back out as TOML (the standard library only reads TOML).

Two readers need the effective configuration as a file: the images (`lab up`
stages it into their build context, `lab.stack.build_context`) and a person (`lab config`).
A lab.toml holds only tables of strings, integers, booleans and lists of
strings, plus the `[[users]]` / `[[groups]]` arrays of tables: that is all this
writes, and it refuses anything else rather than write a file that reads back
differently.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

#: Keys whose values are passwords: `lab config` shows them as `***`.
SECRET_KEYS = {("domain", "admin_password"), ("users", "password")}
MASK = "***"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # a JSON string with ASCII escapes is a TOML basic string, except DEL
    return json.dumps(text, ensure_ascii=True).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list) and all(isinstance(v, str | int | bool) for v in value):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} into lab.toml")


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{_key(key)} = {_value(value)}" for key, value in table.items()]


def dumps(document: dict[str, Any]) -> str:
    """The document as TOML: plain tables first, then arrays of tables, in document order."""
    chunks: list[str] = []
    for name, table in document.items():
        if isinstance(table, dict):
            chunks.append("\n".join([f"[{_key(name)}]", *_pairs(table)]))
    for name, entries in document.items():
        if isinstance(entries, dict):
            continue
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise TypeError(f"cannot write {name} = {entries!r} into lab.toml")
        chunks.extend("\n".join([f"[[{_key(name)}]]", *_pairs(entry)]) for entry in entries)
    return "\n\n".join(chunks) + "\n"


def masked(document: dict[str, Any]) -> dict[str, Any]:
    """A copy with every password replaced by `***` (what `lab config` prints by default)."""
    result = copy.deepcopy(document)
    for section, key in SECRET_KEYS:
        value = result.get(section)
        for table in value if isinstance(value, list) else [value]:
            if isinstance(table, dict) and key in table:
                table[key] = MASK
    return result
