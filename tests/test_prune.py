"""`lab down --all`: which projects it finds, and which images it keeps."""

from types import SimpleNamespace

from lab.stack.engine import Engine
from lab.stack.prune import lab_projects


def _thing(project, **extra):
    return SimpleNamespace(labels={"com.docker.compose.project": project,
                                   "lab.fingerprint": "x"}, id=f"id-{project}", **extra)


def test_projects_with_containers_and_with_images_only():
    containers = [_thing("lab"), _thing("lab-test-1")]
    images = [_thing("lab"), _thing("lab-test-1"), _thing("lab-gone"), _thing("lab-gone")]
    seen_filters = []

    def containers_list(all, filters):
        seen_filters.append(filters)
        return containers

    def images_list(filters):
        seen_filters.append(filters)
        return images

    client = SimpleNamespace(containers=SimpleNamespace(list=containers_list),
                             images=SimpleNamespace(list=images_list))
    running, imaged_only = lab_projects(Engine(client))
    assert running == {"lab", "lab-test-1"} and imaged_only == {"lab-gone"}
    assert all(f == {"label": "lab.fingerprint"} for f in seen_filters)
