"""The model slot: hot swap between batches, refusal of a tampered version."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.scorer import ScorerMetrics, ScoringHandler
from core.kafka.records import StubRecord
from core.registry import ModelRegistry
from core.serving import ModelSlot
from core.settings import Settings
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator
from producers.invalid import encode


def register(registry: ModelRegistry, seed: int) -> int:
    trained = train_and_evaluate(ChurnGenerator(seed=seed).reference(2000), "logistic", seed)
    version = registry.register(
        "churn", trained.model, trained.metrics, {}, reference_profile=trained.reference_profile
    ).version
    registry.promote("churn", version, "production", "test")
    return version


def test_a_promotion_is_picked_up_on_the_next_refresh(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    slot = ModelSlot(registry, "churn", poll_s=3600)
    assert slot.refresh(force=True) is False
    assert slot.current is None
    register(registry, 1)
    assert slot.refresh(force=True) is True
    register(registry, 2)
    assert slot.refresh() is False, "within the poll interval nothing is re-read"
    assert slot.refresh(force=True) is True
    assert slot.current is not None
    assert slot.current.version == 2


def test_a_tampered_production_version_is_refused_and_the_old_one_keeps_serving(
    tmp_path: Path,
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    register(registry, 1)
    settings = Settings(registry={"path": tmp_path / "registry"})
    slot = ModelSlot(registry, "churn", poll_s=0)
    slot.refresh(force=True)
    v2 = register(registry, 2)
    artifact = next((tmp_path / "registry").rglob(f"versions/{v2}/model.joblib"))
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))

    assert slot.refresh(force=True) is False
    assert slot.current is not None
    assert slot.current.version == 1
    handler = ScoringHandler(settings, slot, ScorerMetrics(CollectorRegistry()))
    event = next(iter(ChurnGenerator(seed=3).events(1)))[0]
    out = handler.process([StubRecord(settings.topics.events, 0, 0, encode(event))])
    logs = [json.loads(o.value) for o in out if o.topic == settings.topics.logs]
    refusal = next(log for log in logs if log["event"] == "error")
    assert refusal["error_type"] == "model_refused"
    assert refusal["model_version"] == v2
    predictions = [json.loads(o.value) for o in out if o.topic == settings.topics.predictions]
    assert [p["model_version"] for p in predictions] == [1]
    assert slot.refresh(force=True) is False, "a refused version is not retried in a loop"
