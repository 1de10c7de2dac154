"""The tree's promises, checked: no import circle in `lab`, every package says what it
owns, and each image copies exactly the part of `lab` it runs, all of which it can import.

The layers themselves (which package may import which) are import-linter's contracts
in pyproject.toml, run by `make lint`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import grimp
import pytest

import lab
from lab.config.topology import SERVICES

LAB = Path(lab.__file__).parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # every import counts: function-level and TYPE_CHECKING ones too
    return grimp.build_graph("lab", exclude_type_checking_imports=False)


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle_in_lab(graph):
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    fake = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        fake.add_module(name)
    fake.add_import(importer="a.b", imported="a.c")
    fake.add_import(importer="a.c", imported="a.b")
    fake.add_import(importer="a.d", imported="a.b")
    assert _circles(fake) == [["a.b", "a.c"]]


def _packages() -> list[str]:
    return sorted(name for _, name, is_package in pkgutil.walk_packages([str(LAB)], "lab.")
                  if is_package and not name.startswith("lab.share"))


@pytest.mark.parametrize("package", _packages())
def test_every_package_says_what_it_owns(package):
    doc = importlib.import_module(package).__doc__ or ""
    assert len(doc.split()) >= 20, f"{package}: a docstring saying what it owns"


def test_lab_root_holds_only_what_all_share_and_the_public_facades():
    modules = sorted(p.stem for p in LAB.glob("*.py") if p.stem != "__init__")
    assert modules == ["commands", "endpoints", "errors", "files", "masking", "mockweb",
                       "testcases"]


def _copied(service: str) -> set[str]:
    dockerfile = (LAB / "share" / "images" / service / "Dockerfile").read_text()
    copied: set[str] = set()
    for line in re.findall(r"^COPY ((?:.*\\\n)*.*)$", dockerfile, re.M):
        sources = line.replace("\\\n", " ").split()[:-1]
        copied.update(s.rstrip("/") for s in sources if s.startswith("lab/"))
    return copied


@pytest.mark.parametrize("service", [s for s in SERVICES if any(
    i.startswith("lab/") for i in s.build_inputs)], ids=lambda s: s.name)
def test_each_image_copies_its_build_inputs_and_can_import_all_they_import(service, graph):
    inputs = {i for i in service.build_inputs if i.startswith("lab/")}
    assert _copied(service.name) == inputs
    modules = {n.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
               for n in inputs if n.endswith(".py")}
    folders = {n.replace("/", ".") for n in inputs if not n.endswith(".py")}
    inside = {m for m in graph.modules
              if m in modules or any(m == f or m.startswith(f + ".") for f in folders)}
    assert "lab" in inside and len(inside) > 2
    missing = {(m, imported) for m in inside
               for imported in graph.find_modules_directly_imported_by(m) if imported not in inside}
    assert not missing, f"the {service.name} image copies modules that import what it lacks"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_each_image_takes_exactly_its_build_args_and_no_secret(service):
    """Build arguments are in the image fingerprint (`Service.build_args`) and in
    `docker history`: the Dockerfile's ARGs are those, and none is a password."""
    dockerfile = (LAB / "share" / "images" / service.name / "Dockerfile").read_text()
    args = set(re.findall(r"^ARG (\w+)", dockerfile, re.M)) - {"BASE_IMAGE"}
    assert args == set(service.build_args)
    assert not any("PASSWORD" in arg or "SECRET" in arg for arg in args)
    compose = (LAB / "share" / "docker-compose.yml").read_text()
    # the service's block, and in it the names under its build's `args:`
    block = re.search(rf"^  {service.name}:\n(.*?)(?=^  \w|^\w)", compose, re.M | re.S)[1]
    passed = re.search(r"^      args:\n((?:^        .*\n)*)", block, re.M)
    passed = set(re.findall(r"^        (\w+):", passed[1], re.M)) if passed else set()
    assert passed - {"BASE_IMAGE"} == args, "compose passes other build args"
    assert not re.search(r"^\s+LAB_\w*PASSWORD\w*:", compose, re.M), \
        "a password in a compose build arg or environment: hand it in the configuration"


def test_the_package_picture_in_the_docs_is_the_tree_as_it_is():
    from harness import architecture

    assert architecture.current() == architecture.picture(), (
        "docs/architecture.md is out of date: python -m harness.architecture --write")
