"""`lab down --all`: every lab project on this engine, found by label, taken down;
and the images of lab projects that no longer exist, removed.

A lab project is one whose containers carry the `lab.fingerprint` label, or
whose images do (left behind by test runs, benchmarks, killed sessions). This
needs no compose file: the engine finds a project's containers, networks and volumes
by its label (`Engine.remove_project`).
"""

from __future__ import annotations

from collections.abc import Callable

from lab.stack.engine import FINGERPRINT_LABEL, PROJECT_LABEL, Engine


def lab_projects(engine: Engine) -> tuple[set[str], set[str]]:
    """(projects with containers, projects with images only), by compose project label."""
    running = {(c.get("Labels") or {}).get(PROJECT_LABEL)
               for c in engine.labelled("containers", FINGERPRINT_LABEL)}
    imaged = {(i.get("Labels") or {}).get(PROJECT_LABEL)
              for i in engine.labelled("images", FINGERPRINT_LABEL)}
    running.discard(None)
    imaged.discard(None)
    return running, imaged - running


def down_all(engine: Engine, say: Callable[[str], None], keep_images: set[str] = frozenset(),
             select: Callable[[str], bool] = lambda _name: True) -> list[str]:
    """Take down every lab project (that `select` accepts); remove the images of every
    such project except those named in `keep_images` (whose next `lab up` should stay
    fast). Returns the projects taken down."""
    running, _ = lab_projects(engine)
    running = {name for name in running if select(name)}
    for project in sorted(running):
        say(f"taking down {project}")
        engine.remove_project(project)
    _, imaged = lab_projects(engine)
    for project in sorted(name for name in imaged - set(keep_images) if select(name)):
        say(f"removing the images of {project}")
        engine.remove_project_images(project)
    return sorted(running)
