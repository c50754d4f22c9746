"""The retrain policy: which alerts train, which fold or skip, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.drift.alert import DriftAlert
from core.retraining.config import RetrainConfig
from core.retraining.policy import Outcome, RetrainPolicy

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class PerformanceAlert:
    alert_id: str
    model_name: str
    model_version: int
    severity: str


def alert(alert_id: str = "a1", version: int = 3, severity: str = "high") -> PerformanceAlert:
    return PerformanceAlert(alert_id, "churn", version, severity)


@pytest.fixture
def policy() -> RetrainPolicy:
    return RetrainPolicy(RetrainConfig(min_severity="medium", cooldown_s=600))


def test_a_severe_alert_on_the_production_version_trains(policy):
    decision = policy.decide(alert(), production_version=3, now=NOW, in_flight=False)
    assert decision.outcome is Outcome.TRAIN
    assert (decision.alert_id, decision.production_version) == ("a1", 3)


def test_a_drift_alert_is_decided_like_any_alert(policy):
    drift = DriftAlert(
        alert_id="d1", model_name="churn", model_version=3, window_start=NOW,
        window_end=NOW, reference_events=1, current_events=1, drifting_features=["age"],
        feature_results=[], severity="medium", profile_digest="0" * 64,
    )  # fmt: skip
    assert policy.decide(drift, production_version=3, now=NOW, in_flight=False).outcome is (
        Outcome.TRAIN
    )


def test_an_alert_with_a_decision_is_skipped_even_when_it_would_train(policy):
    decision = policy.decide(
        alert(), production_version=3, now=NOW, in_flight=False, decided={"a1", "a0"}
    )
    assert decision.outcome is Outcome.SKIP_DECIDED
    assert decision.outcome.skipped


def test_an_alert_about_an_older_version_than_production_is_stale(policy):
    decision = policy.decide(alert(version=2), production_version=3, now=NOW, in_flight=False)
    assert decision.outcome is Outcome.SKIP_STALE
    assert "version 3" in decision.reason


def test_an_alert_about_a_newer_version_than_the_retrainer_knows_still_trains(policy):
    decision = policy.decide(alert(version=4), production_version=3, now=NOW, in_flight=False)
    assert decision.outcome is Outcome.TRAIN


def test_without_a_production_version_nothing_trains(policy):
    decision = policy.decide(alert(), production_version=None, now=NOW, in_flight=False)
    assert decision.outcome is Outcome.SKIP_NO_CHAMPION


@pytest.mark.parametrize(
    ("minimum", "severity", "trains"),
    [
        ("medium", "low", False),
        ("medium", "medium", True),
        ("medium", "high", True),
        ("high", "medium", False),
        ("low", "low", True),
        ("low", "unheard-of", False),
    ],
)
def test_severity_must_reach_the_minimum(minimum, severity, trains):
    policy = RetrainPolicy(RetrainConfig(min_severity=minimum))
    decision = policy.decide(
        alert(severity=severity), production_version=3, now=NOW, in_flight=False
    )
    assert (decision.outcome is Outcome.TRAIN) is trains
    if not trains:
        assert decision.outcome is Outcome.SKIP_SEVERITY


def test_an_alert_during_a_training_folds_into_it(policy):
    decision = policy.decide(alert(), production_version=3, now=NOW, in_flight=True)
    assert decision.outcome is Outcome.FOLD
    assert not decision.outcome.skipped


def test_a_stale_or_weak_alert_is_not_credited_to_the_training_in_flight(policy):
    stale = policy.decide(alert(version=2), production_version=3, now=NOW, in_flight=True)
    weak = policy.decide(alert(severity="low"), production_version=3, now=NOW, in_flight=True)
    assert (stale.outcome, weak.outcome) == (Outcome.SKIP_STALE, Outcome.SKIP_SEVERITY)


def test_alerts_right_after_a_promotion_cool_down_then_train_again(policy):
    policy.record_promotion("churn", 4, NOW)
    during = policy.decide(
        alert(version=4), production_version=4, now=NOW + timedelta(seconds=599), in_flight=False
    )
    after = policy.decide(
        alert(version=4), production_version=4, now=NOW + timedelta(seconds=600), in_flight=False
    )
    assert during.outcome is Outcome.SKIP_COOLDOWN
    assert "cooling down" in during.reason
    assert after.outcome is Outcome.TRAIN


def test_a_promotion_of_another_model_does_not_cool_this_one_down(policy):
    policy.record_promotion("other", 9, NOW)
    assert policy.decide(alert(), production_version=3, now=NOW, in_flight=False).outcome is (
        Outcome.TRAIN
    )


def test_the_cooldown_survives_a_restart_through_its_json_state(policy):
    policy.record_promotion("churn", 4, NOW)
    state = json.loads(json.dumps(policy.to_dict()))
    restored = RetrainPolicy.from_dict(state, RetrainConfig(cooldown_s=600))
    assert restored.last_promotion("churn") == policy.last_promotion("churn")
    decision = restored.decide(
        alert(version=4), production_version=4, now=NOW + timedelta(seconds=1), in_flight=False
    )
    assert decision.outcome is Outcome.SKIP_COOLDOWN


def test_every_decision_serializes_with_its_reason(policy):
    record = policy.decide(alert(), production_version=3, now=NOW, in_flight=False).to_dict()
    assert json.loads(json.dumps(record))["outcome"] == "train"
    assert record["reason"]


def test_alerts_right_after_a_rejection_cool_down_then_train_again():
    policy = RetrainPolicy(RetrainConfig(rejection_cooldown_s=300))
    policy.record_rejection("churn", NOW)
    during = policy.decide(
        alert(), production_version=3, now=NOW + timedelta(seconds=299), in_flight=False
    )
    after = policy.decide(
        alert(), production_version=3, now=NOW + timedelta(seconds=300), in_flight=False
    )
    assert during.outcome is Outcome.SKIP_COOLDOWN
    assert "rejected" in during.reason
    assert after.outcome is Outcome.TRAIN


def test_the_rejection_cooldown_survives_a_restart_through_its_json_state():
    config = RetrainConfig(rejection_cooldown_s=300)
    policy = RetrainPolicy(config)
    policy.record_rejection("churn", NOW)
    restored = RetrainPolicy.from_dict(json.loads(json.dumps(policy.to_dict())), config)
    decision = restored.decide(
        alert(), production_version=3, now=NOW + timedelta(seconds=1), in_flight=False
    )
    assert decision.outcome is Outcome.SKIP_COOLDOWN


def test_an_older_promotion_heard_late_does_not_move_the_cooldown_back(policy):
    policy.record_promotion("churn", 5, NOW)
    policy.record_promotion("churn", 4, NOW - timedelta(hours=1))
    assert policy.last_promotion("churn").version == 5
