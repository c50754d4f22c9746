"""One retraining end to end without Kafka: records → dataset → challenger → verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits

from core.drift.profile import ReferenceProfile
from core.features import FEATURES, TARGET
from core.registry import ModelRegistry
from core.retraining.config import RetrainConfig
from core.retraining.dataset import build_dataset
from core.retraining.decision import RetrainDecision
from core.retraining.exceptions import NotEnoughLabelledData
from core.retraining.trainer import answered_alert_ids, train_challenger
from core.settings import ValidationConfig
from core.training import build_pipeline
from producers.generator import ChurnGenerator
from producers.scenarios import ConceptDrift
from tests.unit.retrain_records import labelled_records, now_after

MAX_EVENT_BYTES = ValidationConfig().max_event_bytes
"""The shared rule every reader of the input applies."""

CONFIG = RetrainConfig(min_labelled_rows=1000, lookback_s=None, max_events=None)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def champion():
    df = ChurnGenerator(seed=1).reference(4000)
    return build_pipeline("logistic").fit(df[list(FEATURES)], df[TARGET])


@pytest.fixture(scope="module")
def drifted():
    events, outcomes = labelled_records(6000, seed=4, scenarios=(ConceptDrift(strength=1.0),))
    return build_dataset(
        events, outcomes, CONFIG, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )


def test_a_retrain_after_concept_drift_beats_the_champion(drifted, champion):
    result = train_challenger(drifted, champion, CONFIG, parent_version=3, alert_ids=["a1"])
    assert result.passed, result.verdict.reasons
    assert result.verdict.challenger["roc_auc"] > result.verdict.champion["roc_auc"] + 0.2
    assert result.verdict.holdout_rows == 1200


def test_the_challenger_is_fitted_on_the_older_rows_only(drifted, champion):
    result = train_challenger(drifted, champion, CONFIG, parent_version=3, alert_ids=["a1"])
    assert result.training.summary["train_rows"] == 4800
    profile = ReferenceProfile.from_dict(result.training.reference_profile)
    assert profile.rows == 4800
    split = result.metadata["retraining"]["split"]
    assert split["train_rows"] + split["holdout_rows"] == 6000


def test_the_lineage_names_parent_alerts_data_and_gate(drifted, champion):
    result = train_challenger(drifted, champion, CONFIG, parent_version=3, alert_ids=["a2", "a1"])
    lineage = json.loads(json.dumps(result.metadata))["retraining"]
    assert lineage["parent_version"] == 3
    assert lineage["alert_ids"] == ["a2", "a1"]
    assert lineage["data"]["rows"] == 6000
    assert {o["partition"] for o in lineage["data"]["event_offsets"]} == {0, 1, 2}
    assert lineage["gate"]["passed"] is True
    assert result.metadata["threshold"] == 0.5


def test_the_result_registers_with_its_profile_metrics_and_parent(tmp_path, drifted, champion):
    registry = ModelRegistry(tmp_path)
    first = registry.register("churn", champion, {"roc_auc": 0.8}, {}, reference_profile={})
    result = train_challenger(
        drifted, champion, CONFIG, parent_version=first.version, alert_ids=["a1"]
    )
    version = result.register(registry, "churn")
    assert version.parent_version == first.version
    assert version.trigger == "retrain"
    assert version.metrics["roc_auc"] == result.verdict.challenger["roc_auc"]
    assert version.metadata["retraining"]["alert_ids"] == ["a1"]
    assert answered_alert_ids(registry.versions("churn")) == {"a1"}


def test_a_decision_record_carries_the_gate_figures_and_data_range(drifted, champion):
    result = train_challenger(drifted, champion, CONFIG, parent_version=3, alert_ids=["a1"])
    decision = RetrainDecision.build(
        list(result.alert_ids), "churn", 3, "promoted", "passed the gate",
        challenger_version=4, verdict=result.verdict, lineage=result.lineage,
    )  # fmt: skip
    again = RetrainDecision.model_validate_json(decision.model_dump_json())
    assert again == decision
    assert again.gate.passed
    assert again.gate.interval_low == result.verdict.interval[0]
    assert again.data.rows == 6000


def test_a_holdout_with_one_class_is_not_enough_labelled_data(champion):
    events, outcomes = labelled_records(2000, seed=5)
    data = build_dataset(
        events, outcomes, CONFIG, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    config = CONFIG.model_copy(update={"min_class_rows": 1000})
    with pytest.raises(NotEnoughLabelledData):
        train_challenger(data, champion, config, parent_version=1, alert_ids=[])


def test_timings_of_each_step_are_reported(drifted, champion):
    result = train_challenger(drifted, None, CONFIG, parent_version=None, alert_ids=[])
    assert set(result.timings) == {"split_s", "fit_s", "gate_s", "profile_s"}
    assert result.verdict.champion is None
