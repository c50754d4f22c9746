"""The drift watcher's handler without Kafka: windows, alerts, checkpoints, model changes."""

from __future__ import annotations

import json
from pathlib import Path

from consumers.drift import DriftHandler
from core.drift.partitioned import PartitionedWindows
from core.settings import Settings
from core.window_shares import WindowShare
from producers.generator import ChurnGenerator
from producers.invalid import encode
from producers.scenarios import FeatureShift
from tests.drift_pipeline import run, watcher
from tests.models import train_and_register
from tests.stubs import StubRecord


def make_settings(tmp_path: Path) -> Settings:
    s = Settings(registry={"path": tmp_path / "registry"}, state_dir=tmp_path)
    s.drift.window_kind = "count"
    s.drift.window_events = 1000
    s.drift.min_window_events = 500
    s.registry.poll_s = 0.0
    return s


def register(settings: Settings, seed: int) -> int:
    return train_and_register(settings.registry.path, seed=seed, rows=3000)


def records(n: int, start: int = 0, shifted: bool = False) -> list[StubRecord]:
    scenarios = [FeatureShift(feature="monthly_charges", shift=35.0)] if shifted else []
    events = ChurnGenerator(seed=9, scenarios=scenarios).events(n, start)
    return [StubRecord("events", 0, start + i, encode(e)) for i, (e, _) in enumerate(events)]


def handler(settings: Settings) -> DriftHandler:
    return watcher(settings, [0])


def seen(h: DriftHandler) -> int:
    assert h.windows is not None
    return h.windows.managers[0].seen


def test_without_a_production_model_the_handler_is_not_ready(tmp_path: Path) -> None:
    assert not handler(make_settings(tmp_path)).ready()


def test_every_batch_ends_with_a_checkpoint_of_its_partitions_windows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    out = handler(settings).process(records(1500))
    checkpoint = out[-1]
    assert checkpoint.topic == settings.topics.drift_state
    assert checkpoint.key == f"{settings.drift.group_id}:0".encode()
    assert checkpoint.partition == 0
    assert PartitionedWindows.read_checkpoint(checkpoint.value)[0] == 1


def test_a_closed_count_window_is_published_whole_for_the_judge(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    out = handler(settings).process(records(1500))
    shares = [
        WindowShare.model_validate_json(o.value)
        for o in out
        if o.topic == settings.topics.drift_partials
    ]
    assert [(s.kind, s.partition, s.events, s.whole) for s in shares] == [("share", 0, 1000, True)]


def test_persistent_drift_alerts_once_then_cools_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    _, alerts = run(settings, records(8000, shifted=True), partitions=1, watchers=1, batch=1000)
    assert len(alerts) == 1
    assert "monthly_charges" in json.loads(alerts[0].value)["drifting_features"]


def test_a_new_production_version_is_used_from_the_next_window_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    h.process(records(1500))
    h.batch_committed()
    assert h.reference is not None
    assert h.reference.version == 1
    register(settings, 2)
    h.idle()
    assert h.reference.version == 1, "the open window keeps its profile until the next batch"
    out = h.process(records(500, start=1500))
    assert h.reference is not None
    assert h.reference.version == 2
    assert seen(h) == 500
    shares = [
        WindowShare.model_validate_json(o.value)
        for o in out
        if o.topic == settings.topics.drift_partials
    ]
    assert [(s.kind, s.model_version, s.events) for s in shares] == [
        ("share", 1, 500),
        ("left", 1, 0),
    ]


def test_an_aborted_batch_is_undone_so_its_replay_counts_each_event_once(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    h.process(records(700))
    h.batch_committed()
    replayed = records(700, start=700)
    h.process(replayed)
    h.batch_aborted()
    assert seen(h) == 700
    out = h.process(replayed)
    h.batch_committed()
    assert seen(h) == 1400
    assert h.windows is not None
    assert sum(w.events for w in h.windows.managers[0].open.values()) == 400
    assert PartitionedWindows.read_checkpoint(out[-1].value)[0] == 1


def test_a_first_batch_aborted_leaves_empty_windows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    h.process(records(300))
    h.batch_aborted()
    assert seen(h) == 0
    assert h.windows is not None
    assert not h.windows.managers[0].open
