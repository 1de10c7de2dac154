"""What lab reads from the engine's container records (the Docker SDK's `attrs`)."""

import os
import subprocess
import sys
from types import SimpleNamespace

import docker
import pytest

from lab.errors import LabNotRunning
from lab.stack.engine import Engine, ServiceState, _state_of


def _container(service, status="running", health="healthy", ports=None, check=True, code=0):
    attrs = {"State": {"Status": status, "ExitCode": code,
                       **({"Health": {"Status": health}} if health else {})},
             "Config": {"Labels": {"com.docker.compose.service": service,
                                   "lab.fingerprint": "abc"},
                        **({"Healthcheck": {"Test": ["CMD", "true"]}} if check else {})},
             "NetworkSettings": {"Ports": ports or {}}}
    return SimpleNamespace(attrs=attrs, name=f"lab-{service}-1")


def test_state_of_a_healthy_service_with_published_ports():
    state = _state_of(_container("dns", ports={
        "53/tcp": [{"HostIp": "127.0.0.1", "HostPort": "10053"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "10053"}],
        "8080/tcp": None}))
    assert state == ServiceState("dns", "running", "healthy", "abc", {53: 10053},
                                 health_test=("CMD", "true"))
    assert state.healthy and not state.broken
    assert state.describe() == "running (healthy)"


def test_an_exited_service_with_a_health_check_is_described_by_its_exit():
    """Bug: `lab status` said "exited (no health check)" for services that have one."""
    state = _state_of(_container("proxy", status="exited", health="", code=1))
    assert state.broken and state.has_health_check
    assert state.describe() == "exited (exit code 1)"


def test_an_exited_service_keeps_when_it_ended_and_whether_for_lack_of_memory():
    container = _container("dc", status="exited", health="", code=127)
    container.attrs["State"].update(FinishedAt="2026-12-07T09:58:11.4398Z", OOMKilled=True)
    state = _state_of(container)
    assert state.finished == "2026-12-07T09:58:11.439800000Z" and state.oom_killed
    running = _container("dc")
    running.attrs["State"].update(FinishedAt="2026-12-07T09:58:11.4398Z", OOMKilled=False)
    assert _state_of(running).finished == "" and not _state_of(running).oom_killed


def test_unhealthy_is_broken():
    assert _state_of(_container("dc", health="unhealthy")).broken


def test_services_are_keyed_by_compose_service_and_filtered_by_project():
    calls = {}
    containers = {"1": _container("dns"), "2": _container("web")}

    def listing(all, filters):
        calls.update(all=all, filters=filters)
        return [{"Id": "1"}, {"Id": "2"}, {"Id": "3"}]

    def get(container_id):
        if container_id not in containers:
            raise docker.errors.NotFound("removed since the listing")
        return containers[container_id]

    client = SimpleNamespace(api=SimpleNamespace(containers=listing),
                             containers=SimpleNamespace(get=get))
    assert set(Engine(client).services("p1")) == {"dns", "web"}, "a vanished one is skipped"
    assert calls == {"all": True, "filters": {"label": "com.docker.compose.project=p1"}}


def test_subnets_by_network_ipv4_only():
    networks = [SimpleNamespace(name="a", attrs={"IPAM": {"Config": [
        {"Subnet": "10.1.0.0/24"}, {"Subnet": "fd00::/64"}]}}),
        SimpleNamespace(name="none", attrs={"IPAM": {"Config": None}})]
    client = SimpleNamespace(networks=SimpleNamespace(list=lambda: networks))
    subnets = Engine(client).subnets()
    assert [str(s) for s in subnets["a"]] == ["10.1.0.0/24"] and subnets["none"] == []


def test_replaced_images_are_pruned_for_this_project_only():
    calls = []
    client = SimpleNamespace(images=SimpleNamespace(prune=lambda filters: calls.append(filters)))
    Engine(client).prune_replaced_images("p1")
    assert calls == [{"dangling": True, "label": "com.docker.compose.project=p1"}]


@pytest.mark.parametrize("docker_host,loaded", [("", False), ("unix:///var/run/docker.sock", False),
                                                ("ssh://lab@10.0.0.5", True)])
def test_the_sdks_ssh_transport_is_loaded_only_for_an_ssh_engine(docker_host, loaded):
    """paramiko is 0.13 s (and more, with what it imports) of every `lab` command."""
    code = ("import sys, lab.stack, docker; "
            "print(sys.modules.get('paramiko') is not None)")
    env = {**os.environ, "DOCKER_HOST": docker_host}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == str(loaded)


def test_an_ssh_engine_named_too_late_for_the_sdk_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "paramiko", None)
    with pytest.raises(LabNotRunning, match="export it, or `docker context use`"):
        Engine(docker_host="ssh://lab@10.0.0.5").client  # noqa: B018


def test_an_engine_over_ssh_is_asked_one_thing_at_a_time():
    from lab.stack.engine import Engine

    assert Engine(docker_host="ssh://root@engine.example").over_ssh
    assert not Engine(docker_host="tcp://engine.example:2375").over_ssh
    assert not Engine().over_ssh
