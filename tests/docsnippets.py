"""The code in README.md and docs/*.md, as snippets the suite runs.

Every fenced block names its language. `sh` and `python` blocks are snippets: the
suite runs each one against the lab (tests/integration/test_docs.py), unless the line
right above its fence says otherwise in an HTML comment:

    <!-- snippet: skip: REASON -->   not run; the reason says why and what proves it
    <!-- snippet: pytest -->          a pytest module: run with pytest (the lab plugin loads)
    <!-- snippet: trial -->           a trial module: run with python -m twisted.trial
    <!-- snippet: exclusive -->       run in the serial phase: it changes the shared lab
                                      (also `exclusive pytest`)

Other languages (`text` for output, `toml`, `ini`, `json`, ...) are never run. A block
without a language, an unknown language or directive, or a skip without a reason is an
error (tests/test_docs.py), so nothing runnable slips through unrun and unmarked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNNABLE = ("sh", "python")
INERT = ("text", "toml", "ini", "json", "html", "yaml", "xml", "dockerfile", "mermaid")
MODES = ("run", "skip", "pytest", "trial")

_FENCE = re.compile(r"^(\s*)```(.*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$")


class SnippetError(ValueError):
    """A block the runner cannot classify; the message names the file and line."""


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int              # the opening fence's line, 1-based
    language: str
    mode: str              # one of MODES: how it runs
    reason: str            # a skip's reason
    code: str
    exclusive: bool = False    # it changes the shared lab: the serial phase runs it

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO).as_posix()}:{self.line}"


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _directive(text: str, where: str) -> tuple[str, str, bool]:
    """(mode, reason, exclusive) of `skip: REASON`, `pytest`, `exclusive pytest`, ..."""
    head, _, reason = text.partition(":")
    words, reason = head.split(), reason.strip()
    exclusive = "exclusive" in words
    rest = [w for w in words if w != "exclusive"]
    mode = rest[0] if len(rest) == 1 else "run" if not rest and exclusive else ""
    if mode not in MODES or (mode == "run" and not exclusive) or (mode == "skip" and exclusive):
        raise SnippetError(f"{where}: unknown snippet directive {text!r} (known: skip: REASON, "
                           "pytest, trial, exclusive, exclusive pytest, exclusive trial)")
    if mode == "skip" and len(reason.split()) < 3:
        raise SnippetError(f"{where}: `snippet: skip` needs a reason (what proves it instead)")
    if mode != "skip" and reason:
        raise SnippetError(f"{where}: only `skip` takes a reason")
    return mode, reason, exclusive


def parse(path: Path, text: str | None = None) -> list[Snippet]:
    """Every sh/python block of one Markdown file, with its directive."""
    lines = (path.read_text() if text is None else text).splitlines()
    found: list[Snippet] = []
    number = 0
    while number < len(lines):
        fence = _FENCE.match(lines[number])
        if not fence:
            if _DIRECTIVE.match(lines[number]) and not (
                    number + 1 < len(lines) and _FENCE.match(lines[number + 1])):
                raise SnippetError(f"{path.name}:{number + 1}: a snippet directive must stand "
                                   "on the line right above a fence")
            number += 1
            continue
        where = f"{path.name}:{number + 1}"
        indent, language = fence.group(1), fence.group(2).strip()
        end = number + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise SnippetError(f"{where}: the block is never closed")
        body = "\n".join(line.removeprefix(indent) for line in lines[number + 1:end]) + "\n"
        above = _DIRECTIVE.match(lines[number - 1]) if number else None
        if language in RUNNABLE:
            mode, reason, exclusive = (_directive(above.group(1), where) if above
                                       else ("run", "", False))
            if mode in ("pytest", "trial") and language != "python":
                raise SnippetError(f"{where}: `{mode}` is for python blocks")
            found.append(Snippet(path, number + 1, language, mode, reason, body, exclusive))
        elif language in INERT:
            if above:
                raise SnippetError(f"{where}: a `{language}` block is never run: no directive")
        else:
            raise SnippetError(f"{where}: give the block a language: sh or python (run), or "
                               f"one of {', '.join(INERT)} (never run); got {language!r}")
        number = end + 1
    return found


def all_snippets() -> list[Snippet]:
    return [snippet for path in documents() for snippet in parse(path)]
