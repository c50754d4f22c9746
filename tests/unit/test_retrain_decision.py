"""The retrain-decisions record: one per decision, with a stable id."""

from __future__ import annotations

from datetime import UTC, datetime

from core.retraining.config import RetrainConfig
from core.retraining.decision import RetrainDecision
from core.retraining.policy import RetrainPolicy
from tests.unit.test_retrain_policy import alert

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_skipped_alert_becomes_a_skipped_decision_with_the_policy_reason():
    decision = RetrainPolicy(RetrainConfig()).decide(
        alert(version=2), production_version=3, now=NOW, in_flight=False
    )
    record = RetrainDecision.skipped(decision)
    assert record.outcome == "skipped"
    assert record.reason.startswith("skip_stale: ")
    assert (record.alert_ids, record.champion_version, record.created_at) == (["a1"], 3, NOW)
    assert record.gate is None


def test_the_same_decision_made_twice_has_the_same_id():
    one = RetrainDecision.build(["b", "a"], "churn", 3, "rejected", "gate", created_at=NOW)
    two = RetrainDecision.build(["a", "b"], "churn", 3, "rejected", "gate (again)")
    assert one.decision_id == two.decision_id
    assert one.alert_ids == ["a", "b"]


def test_a_different_outcome_or_champion_is_a_different_decision():
    ids = {
        RetrainDecision.build(["a"], "churn", 3, "rejected", "").decision_id,
        RetrainDecision.build(["a"], "churn", 3, "promoted", "").decision_id,
        RetrainDecision.build(["a"], "churn", 4, "rejected", "").decision_id,
    }
    assert len(ids) == 3


def test_every_field_is_documented_for_the_contract_table():
    for model in (RetrainDecision,):
        undocumented = [
            name
            for name, field in model.model_fields.items()
            if not field.description and name not in {"model_name", "outcome", "created_at"}
        ]
        assert undocumented == [], undocumented
