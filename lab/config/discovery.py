"""Which lab.toml a command uses, what it extends, and the project name it gets.

A project's own lab.toml says only what it changes: it extends the default the
package carries (`lab/share/lab.toml`). The file is looked for as users expect
from similar tools (ruff, pytest, docker compose):

1. `--config FILE` (the CLI) or the `file` argument;
2. `LAB_CONFIG` (a file);
3. `LAB_ROOT` (a directory holding lab.toml: the old way, still honoured);
4. `lab.toml` in the current directory or the nearest parent holding one;
5. the packaged default alone.

Merge rules (`merge`): tables (`[lab]`, `[network]`, `[domain]`, `[proxy]`,
`[ports]`) merge key by key, the project's value winning; `[[users]]` and
`[[groups]]` entries are added to the default's, and an entry with the name of
a default one replaces that entry whole. The merged document is then validated
as one file (`lab.config.schema`): an unknown key is still caught, with the closest
known name.

Passwords: a lab published beyond loopback (`LAB_BIND`) gets generated passwords for
every account the project's own file sets none for (`lab.config.generated`): the
packaged ones are public.

Project names: a project's file that does not set `[lab] project` gets
`lab-<directory>-<6 hex digits of the directory's path>`, so two projects (or two
checkouts) on one machine never share a lab by accident; the default alone is
project `lab`. Standard library only, like `lab.config.model`.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from lab.config.generated import with_generated_passwords
from lab.config.model import FILE_NAME, LabConfig, Origin, from_document
from lab.errors import ConfigError

TABLE_ARRAYS = ("users", "groups")


def package_dir(root: Path | None) -> Traversable:
    """The lab package to build from: `root/lab` for a copy of the repository that
    carries its own (LAB_ROOT, the tests' copies), else the installed package."""
    if root is not None and (root / "lab" / "share" / FILE_NAME).is_file():
        return root / "lab"
    return importlib.resources.files("lab")


def _existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"{what}: {path} is not a file (give the path of a lab.toml)")
    return path.resolve()


def find(file: Path | None, root: Path | None, environ: dict[str, str],
         cwd: Path) -> Origin:
    """The configuration file to use, by the order in the module's docstring (an
    explicit `root`, the Python API's old argument, comes right after `file`)."""
    how = "root"
    if root is None and file is None and not environ.get("LAB_CONFIG") \
            and environ.get("LAB_ROOT"):
        root, how = Path(environ["LAB_ROOT"]), "LAB_ROOT"
    package = package_dir(root or (Path(environ["LAB_ROOT"]) if environ.get("LAB_ROOT")
                                   else None))
    if file is not None:
        return Origin(_existing(Path(file), f"--config {file}"), "--config", package)
    if root is not None:
        path = root / FILE_NAME
        if not path.is_file():
            raise ConfigError(f"{path} not found: LAB_ROOT must be a directory holding a "
                              "lab.toml; or set LAB_CONFIG to the file")
        return Origin(path.resolve(), how, package)
    if environ.get("LAB_CONFIG"):
        value = environ["LAB_CONFIG"]
        return Origin(_existing(Path(value), f"LAB_CONFIG={value}"), "LAB_CONFIG", package)
    start = cwd.resolve()
    for directory in (start, *start.parents):
        if (directory / FILE_NAME).is_file():
            return Origin(directory / FILE_NAME, f"found from {start}", package)
    return Origin(None, "packaged default", package)


def read(path: Path | Traversable) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found; reinstall lab (its packaged default "
                          "configuration is missing)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _named_entries(where: str, section: str, entries: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: {section} must be written as [[{section}]] tables")
    by_name: dict[str, dict[str, Any]] = {}
    for number, entry in enumerate(entries, 1):
        name = entry.get("name")
        if not isinstance(name, str):
            raise ConfigError(f"{where}: [[{section}]] #{number} needs a `name` (a string)")
        if name in by_name:
            raise ConfigError(f"{where}: {section[:-1]} {name!r} is listed twice")
        by_name[name] = entry
    return by_name


def merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    """`base` extended by `override`, by the rules in the module's docstring."""
    result = {key: (dict(value) if isinstance(value, dict) else value)
              for key, value in base.items()}
    for key, value in override.items():
        if key in TABLE_ARRAYS:
            entries = _named_entries(where, key, value)
            merged = _named_entries("the packaged default", key, result.get(key, []))
            merged.update(entries)      # same name: replaced in place; new: appended
            result[key] = list(merged.values())
        elif isinstance(result.get(key), dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key} must be a table: [{key}] with its keys "
                                  "on the lines below")
            result[key].update(value)
        else:                            # unknown: left for the schema to name
            result[key] = value
    return result


def derive_project(directory: Path) -> str:
    """`lab-<dirname>-<hash>`: unique per directory, valid as a compose project name."""
    directory = directory.resolve()
    name = re.sub(r"[^a-z0-9_-]+", "-", directory.name.lower()).strip("-_")[:24].strip("-_")
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:6]
    return f"lab-{name or 'project'}-{digest}"


def resolve(file: Path | None, root: Path | None, environ: dict[str, str],
            cwd: Path) -> tuple[Origin, dict[str, Any]]:
    """(where it came from, the merged document with its project name settled)."""
    origin = find(file, root, environ, cwd)
    document = read(origin.default_file)
    if origin.file is None:
        return origin, document
    own = read(origin.file)
    document = merge(document, own, str(origin.file))
    own_lab = own.get("lab")
    if not (isinstance(own_lab, dict) and "project" in own_lab) \
            and isinstance(document.get("lab"), dict):
        document["lab"]["project"] = derive_project(origin.file.parent)
    return origin, document


def load(file: Path | None, root: Path | None, environ: dict[str, str],
         cwd: Path) -> LabConfig:
    """`load_config`'s work: resolve, merge, validate; errors name the file
    the user wrote (the schema's messages say `lab.toml`)."""
    origin, document = resolve(file, root, environ, cwd)
    where = origin.file.parent if origin.file else cwd
    try:
        config = from_document(document, where, environ, origin)
        if config.published_beyond_loopback:          # the packaged passwords are public
            own = read(origin.file) if origin.file else {}
            config = from_document(with_generated_passwords(document, own, config.state_dir),
                                   where, environ, origin)
        return config
    except ConfigError as exc:
        message = str(exc)
        if not message.startswith(FILE_NAME):
            raise
        merged = "" if origin.file is None else " (merged with the packaged default)"
        raise ConfigError(f"{origin.label}{merged}{message[len(FILE_NAME):]}") from None


def load_config(root: Path | None = None, environ: dict[str, str] | None = None, *,
                file: Path | None = None, cwd: Path | None = None) -> LabConfig:
    """The effective configuration: the lab.toml `find` finds (`file`, else
    `root`/lab.toml, LAB_CONFIG, LAB_ROOT, a lab.toml from `cwd` upwards) merged onto
    the packaged default, then `.env` beside that file and the environment."""
    return load(file, Path(root) if root is not None else None,
                          dict(os.environ if environ is None else environ),
                          Path.cwd() if cwd is None else Path(cwd))


def load_file(path: Path, environ: dict[str, str] | None = None) -> LabConfig:
    """One complete lab.toml, on its own (the images' copy of the effective one)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return from_document(data, Path(path).parent, dict(os.environ if environ is None
                                                       else environ), None)
