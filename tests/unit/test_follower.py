"""Following the production version: hot swap on refresh, refusal of a tampered version."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.scorer import ScorerMetrics, ScoringHandler
from core.follower import ProductionFollower, Refusal
from core.registry import ModelRegistry
from core.schemas import ModelEvent
from core.scoring import LoadedModel
from core.settings import Settings
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator
from producers.invalid import encode
from tests.models import train_and_register
from tests.stubs import StubRecord


def register(registry: ModelRegistry, seed: int) -> int:
    return train_and_register(registry, seed=seed)


class Heard:
    """Announcements as a list a test appends to."""

    def __init__(self) -> None:
        self.events: list[ModelEvent] = []
        self.closed = False

    def poll(self) -> list[ModelEvent]:
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        self.closed = True


def test_a_promotion_is_picked_up_on_the_next_forced_refresh(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    follower = ProductionFollower(registry, "churn", LoadedModel.load, poll_s=3600)
    assert follower.refresh(force=True) is False
    assert follower.current is None
    register(registry, 1)
    assert follower.refresh(force=True) is True
    register(registry, 2)
    assert follower.refresh() is False, "within the poll interval nothing is re-read"
    assert follower.refresh(force=True) is True
    assert follower.current is not None
    assert follower.current.version == 2


def test_an_announcement_makes_the_next_refresh_read_the_registry_at_once(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path)
    heard = Heard()
    follower = ProductionFollower(
        registry, "churn", lambda r, n, v: v, poll_s=3600, announcements=heard
    )
    register(registry, 1)
    assert follower.refresh(force=True) is True
    v2 = register(registry, 2)
    assert follower.refresh() is False
    heard.events.append(
        ModelEvent(event="promoted", model_name="churn", version=v2, at="2026-01-01T00:00:00Z")
    )
    assert follower.refresh() is True
    assert follower.current == v2
    follower.close()
    assert heard.closed


def test_the_loaded_model_carries_the_threshold_registered_with_its_version(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path)
    trained = train_and_evaluate(
        ChurnGenerator(seed=1).reference(2000), "logistic", 1, threshold=0.3
    )
    version = trained.register(registry, "churn", {}, trigger="test").version
    assert LoadedModel.load(registry, "churn", version).threshold == 0.3


def test_a_tampered_production_version_is_refused_and_the_old_one_keeps_serving(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, 1)
    settings = Settings(registry={"path": tmp_path / "registry"})
    follower = ProductionFollower(registry, "churn", LoadedModel.load, poll_s=0)
    refused: list[Refusal] = []
    follower.on_refused(refused.append)
    handler = ScoringHandler(settings, follower, ScorerMetrics(CollectorRegistry()))
    follower.refresh(force=True)
    v2 = register(registry, 2)
    artifact = next((tmp_path / "registry").rglob(f"versions/{v2}/model.joblib"))
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))

    assert follower.refresh(force=True) is False
    assert follower.current is not None
    assert follower.current.version == 1
    assert [r.version for r in refused] == [v2]
    event = next(iter(ChurnGenerator(seed=3).events(1)))[0]
    out = handler.process([StubRecord(settings.topics.events, 0, 0, encode(event))])
    logs = [json.loads(o.value) for o in out if o.topic == settings.topics.logs]
    refusal = next(log for log in logs if log["event"] == "error")
    assert refusal["error_type"] == "model_refused"
    assert refusal["model_version"] == v2
    predictions = [json.loads(o.value) for o in out if o.topic == settings.topics.predictions]
    assert [p["model_version"] for p in predictions] == [1]
    assert follower.refresh(force=True) is False, "a refused version is not retried in a loop"


def test_a_prediction_carries_its_events_timestamp_not_the_time_it_was_scored(
    tmp_path: Path,
) -> None:
    """The monitor measures the label delay on record timestamps: a scorer that lags
    its input (a restart, a broker outage) must not make the outcomes look late."""
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, 1)
    settings = Settings(registry={"path": tmp_path / "registry"})
    follower = ProductionFollower(registry, "churn", LoadedModel.load, poll_s=0)
    handler = ScoringHandler(settings, follower, ScorerMetrics(CollectorRegistry()))
    follower.refresh(force=True)
    events = [e for e, _ in ChurnGenerator(seed=3).events(2)]
    an_hour_ago = 1_796_000_000_000
    out = handler.process(
        [
            StubRecord(settings.topics.events, 0, i, encode(e), timestamp_ms=an_hour_ago + i)
            for i, e in enumerate(events)
        ]
    )
    stamps = [o.timestamp_ms for o in out if o.topic == settings.topics.predictions]
    assert stamps == [an_hour_ago, an_hour_ago + 1]
