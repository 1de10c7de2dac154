"""docs/clients.md is written from the recorded runs (never by hand), and the recording
covers the whole catalogue: a new scenario needs `python -m harness.ecosystems --record`."""

import json

from harness.ecosystems import CLIENTS, PAGE, RECORDING, render
from lab.scenarios.catalogue import NAMES, spec


def test_the_page_is_the_recording_rendered():
    assert PAGE.read_text() == render(json.loads(RECORDING.read_text())), (
        "docs/clients.md differs from its recording: `python -m harness.ecosystems`")


def test_every_client_was_recorded_over_the_whole_catalogue():
    clients = json.loads(RECORDING.read_text())["clients"]
    assert list(clients) == list(CLIENTS)
    shared = [n for n in NAMES if spec(n).pause is None]
    for name, data in clients.items():
        assert list(data["scenarios"]) == shared, (
            f"{name}'s recording predates the catalogue: `python -m harness.ecosystems "
            "--record` with the lab up")
        assert all(s["expect"] == spec(n).expect for n, s in data["scenarios"].items())
