"""The one scoring path: contract-shaped records, the version's threshold, no PII."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from core.registry import ModelRegistry
from core.schemas import (
    Prediction,
    PredictionFields,
    PredictionLog,
    PredictionLogFields,
    RiskLevel,
)
from core.scoring import BatchScorer, LoadedModel, churn_probabilities
from core.training import train_and_evaluate
from core.validation import parse_event
from producers.generator import ChurnGenerator
from producers.invalid import encode


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    trained = train_and_evaluate(ChurnGenerator(seed=1).reference(3000), "logistic", 1)
    version = trained.register(registry, "churn", {}, trigger="test").version
    return LoadedModel.load(registry, "churn", version)


def events(n: int) -> list:  # type: ignore[type-arg]
    return [parse_event(encode(e), 65536) for e, _ in ChurnGenerator(seed=4).events(n)]


def test_the_typed_dicts_have_exactly_the_contract_models_fields() -> None:
    assert set(PredictionFields.__annotations__) == set(Prediction.model_fields)
    assert set(PredictionLogFields.__annotations__) == set(PredictionLog.model_fields)


def test_every_scored_record_validates_as_the_contract_models(loaded: LoadedModel) -> None:
    batch = events(50)
    scored = BatchScorer("test", ["email"]).score(
        loaded,
        [f"e{i}" for i in range(50)],
        batch,
        now=datetime.now(UTC),
        started=time.perf_counter(),
    )
    assert len(scored) == 50
    for one in scored:
        prediction = Prediction.model_validate(one.prediction)
        log = PredictionLog.model_validate(one.log)
        assert log.event_id == prediction.event_id
        assert log.output == {
            "prediction": prediction.prediction,
            "probability": prediction.probability,
            "risk_level": prediction.risk_level,
        }
        assert prediction.model_version == loaded.version
        assert (prediction.model_name, log.model_name) == ("churn", "churn")


def test_the_label_follows_the_versions_threshold(loaded: LoadedModel) -> None:
    batch = events(200)
    probabilities = churn_probabilities(loaded, batch).tolist()
    scored = BatchScorer("test", []).score(
        loaded, [str(i) for i in range(200)], batch, now=datetime.now(UTC), started=0.0
    )
    assert [s.prediction["prediction"] for s in scored] == [
        int(p >= loaded.threshold) for p in probabilities
    ]


def test_the_risk_level_is_the_contracts_banding_of_the_probability(loaded: LoadedModel) -> None:
    batch = events(400)
    scored = BatchScorer("test", []).score(
        loaded, [str(i) for i in range(400)], batch, now=datetime.now(UTC), started=0.0
    )
    levels = [s.prediction["risk_level"] for s in scored]
    assert levels == [RiskLevel.of(s.prediction["probability"]) for s in scored]
    assert len(set(levels)) >= 2


def test_pii_and_the_event_id_never_appear_in_the_logged_input(loaded: LoadedModel) -> None:
    batch = events(3)
    scored = BatchScorer("test", ["customer_id", "age"]).score(
        loaded, ["a", "b", "c"], batch, now=datetime.now(UTC), started=0.0
    )
    for one in scored:
        assert set(one.log["input"]) == {
            "event_time",
            "tenure_months",
            "monthly_charges",
            "total_charges",
            "contract_type",
        }


def test_an_invalid_event_log_names_its_source_and_never_its_values() -> None:
    log = BatchScorer("test", []).invalid_event_log(
        "t:1:5", "out_of_range", "age: must be >= 18", now=datetime.now(UTC), source=("t", 1, 5)
    )
    record = PredictionLog.model_validate(log)
    assert (record.source_topic, record.source_partition, record.source_offset) == ("t", 1, 5)
    assert record.input is None
