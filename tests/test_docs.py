"""The docs' snippets are all classified (run, or marked with a reason), the README is a
front door, and every link between the docs leads somewhere. Running the snippets needs
the lab: tests/integration/test_docs.py."""

from __future__ import annotations

import re

import pytest

from tests.docsnippets import REPO, SnippetError, all_snippets, documents, parse


def test_every_document_parses_and_has_snippets():
    snippets = all_snippets()
    assert {s.path for s in snippets} == set(documents())     # each has code a user runs
    assert sum(s.mode != "skip" for s in snippets) > 2 * sum(s.mode == "skip" for s in snippets)


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert "make lab-up" in readme and "make test" in readme and "make test-full" in readme


def test_every_relative_link_leads_to_a_file():
    for path in documents():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if "://" not in target:
                assert (path.parent / target).exists(), f"{path.name}: {target}"


def _one(text):
    return parse(REPO / "x.md", text)


def test_blocks_and_directives():
    text = ("```sh\nlab up\n```\n"
            "<!-- snippet: skip: takes minutes, test_fresh proves it -->\n```sh\nmake x\n```\n"
            "<!-- snippet: exclusive -->\n```python\nprint(1)\n```\n"
            "```text\noutput\n```\n"
            "- item\n  <!-- snippet: pytest -->\n  ```python\n  def test_x():\n      pass\n  ```\n"
            "<!-- snippet: exclusive pytest -->\n```python\ndef test_y():\n    pass\n```\n")
    got = [(s.language, s.mode, s.exclusive, s.reason, s.code) for s in _one(text)]
    assert got == [("sh", "run", False, "", "lab up\n"),
                   ("sh", "skip", False, "takes minutes, test_fresh proves it", "make x\n"),
                   ("python", "run", True, "", "print(1)\n"),
                   ("python", "pytest", False, "", "def test_x():\n    pass\n"),
                   ("python", "pytest", True, "", "def test_y():\n    pass\n")]


@pytest.mark.parametrize("text, error", [
    ("```\nls\n```\n", "give the block a language"),
    ("```bash\nls\n```\n", "give the block a language"),
    ("<!-- snippet: skip -->\n```sh\nls\n```\n", "needs a reason"),
    ("<!-- snippet: later -->\n```sh\nls\n```\n", "unknown snippet directive"),
    ("<!-- snippet: run -->\n```sh\nls\n```\n", "unknown snippet directive"),
    ("<!-- snippet: exclusive skip: it is long -->\n```sh\nls\n```\n", "unknown snippet"),
    ("<!-- snippet: pytest trial -->\n```python\nx\n```\n", "unknown snippet directive"),
    ("<!-- snippet: pytest -->\n```sh\nls\n```\n", "for python blocks"),
    ("<!-- snippet: exclusive -->\n\n```sh\nls\n```\n", "right above a fence"),
    ("<!-- snippet: exclusive -->\n```text\nls\n```\n", "never run"),
    ("```sh\nls\n", "never closed"),
])
def test_what_cannot_be_classified_is_an_error(text, error):
    with pytest.raises(SnippetError, match=error):
        _one(text)
