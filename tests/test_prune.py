"""`lab down --all`: which projects it finds, and which images it keeps."""

from types import SimpleNamespace

from lab.stack.engine import Engine
from lab.stack.prune import lab_projects


def _thing(project):
    return {"Labels": {"com.docker.compose.project": project, "lab.fingerprint": "x"},
            "Id": f"id-{project}"}


def test_projects_with_containers_and_with_images_only():
    containers = [_thing("lab"), _thing("lab-test-1")]
    images = [_thing("lab"), _thing("lab-test-1"), _thing("lab-gone"), _thing("lab-gone")]
    seen_filters = []

    def containers_listing(all, filters):
        assert all
        seen_filters.append(filters)
        return containers

    def images_listing(filters):
        seen_filters.append(filters)
        return images

    client = SimpleNamespace(api=SimpleNamespace(containers=containers_listing,
                                                 images=images_listing))
    running, imaged_only = lab_projects(Engine(client))
    assert running == {"lab", "lab-test-1"} and imaged_only == {"lab-gone"}
    assert all(f == {"label": "lab.fingerprint"} for f in seen_filters)
