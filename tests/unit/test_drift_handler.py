"""The drift watcher's handler without Kafka: windows, alerts, checkpoints, model changes."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.drift import DriftHandler, DriftMetrics
from core.drift.judge import Reference
from core.drift.window_record import DriftWindowRecord
from core.follower import ProductionFollower
from core.kafka.changelog import CheckpointStore
from core.registry import ModelRegistry
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import encode
from producers.scenarios import FeatureShift
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


def follower(settings: Settings) -> ProductionFollower[Reference]:
    registry = ModelRegistry(settings.registry.path)
    return ProductionFollower(registry, "churn", Reference.load, poll_s=0)


def handler(settings: Settings) -> DriftHandler:
    store = CheckpointStore(settings, settings.topics.drift_state, settings.drift.group_id)
    h = DriftHandler(settings, follower(settings), DriftMetrics(CollectorRegistry()), store)
    h.idle()
    return h


def test_without_a_production_model_the_handler_is_not_ready(tmp_path: Path) -> None:
    assert not handler(make_settings(tmp_path)).ready()


def test_every_batch_ends_with_a_checkpoint_of_the_open_windows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    out = handler(settings).process(records(1500))
    checkpoint = out[-1]
    assert checkpoint.topic == settings.topics.drift_state
    assert checkpoint.key == settings.drift.group_id.encode()
    assert json.loads(checkpoint.value)["model_version"] == 1


def test_persistent_drift_alerts_once_then_cools_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    out = []
    for i in range(8):
        out += h.process(records(1000, start=i * 1000, shifted=True))
    alerts = [o for o in out if o.topic == settings.topics.alerts]
    assert len(alerts) == 1
    assert "monthly_charges" in json.loads(alerts[0].value)["drifting_features"]


def test_every_judged_window_is_published_with_its_offsets_and_counts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    out = h.process(records(2500)) + h.process(records(1000, start=2500, shifted=True))
    windows = [
        DriftWindowRecord.model_validate_json(o.value)
        for o in out
        if o.topic == settings.topics.drift_windows
    ]
    assert [w.events for w in windows] == [1000, 1000, 1000]
    assert [(o.first_offset, o.last_offset, o.events) for w in windows for o in w.offsets] == [
        (0, 999, 1000),
        (1000, 1999, 1000),
        (2000, 2999, 1000),
    ]
    assert len({w.window_id for w in windows}) == 3


def test_a_new_production_version_is_used_from_the_next_window_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    h.process(records(1500))
    assert h.reference is not None
    assert h.reference.version == 1
    register(settings, 2)
    h.idle()
    assert h.reference.version == 1, "the open window keeps its profile until the next batch"
    h.process(records(500, start=1500))
    assert h.reference is not None
    assert h.reference.version == 2
    assert h.windows is not None
    assert h.windows.seen == 500


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
    assert h.windows is not None
    assert h.windows.seen == 700
    out = h.process(replayed)
    h.batch_committed()
    assert h.windows.seen == 1400
    assert sum(w.events for w in h.windows.open.values()) == 400
    assert json.loads(out[-1].value)["model_version"] == 1


def test_a_first_batch_aborted_leaves_empty_windows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    register(settings, 1)
    h = handler(settings)
    h.process(records(300))
    h.batch_aborted()
    assert h.windows is not None
    assert h.windows.seen == 0
    assert not h.windows.open
