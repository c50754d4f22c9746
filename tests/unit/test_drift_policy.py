"""Alert policy (M of N, cooldown, severity) and the `drift-alerts` record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.drift.alert import DriftAlert
from core.drift.config import DriftConfig
from core.drift.policy import AlertPolicy
from core.drift.report import DriftReport, FeatureResult, TestResult
from core.drift.windows import OffsetRange


def report(drifting: tuple[str, ...] = (), *, judged: bool = True, psi: float = 0.3) -> DriftReport:
    features = tuple(
        FeatureResult(
            name,
            "numeric",
            1000,
            600,
            0,
            {"mean": 1.0, "std": 1.0},
            {"mean": 2.0, "std": 1.0},
            tests=(TestResult("psi", psi if name in drifting else 0.01, 0.2, name in drifting),),
            drift=name in drifting,
        )
        for name in ("age", "tenure_months", "monthly_charges", "total_charges", "contract_type")
    )
    return DriftReport(features, 1000, 600, judged, False, 0.01, "bh", "" if judged else "small")


def run(policy: AlertPolicy, windows: list[DriftReport], version: int = 1) -> list[bool]:
    return [policy.observe(w, model_name="churn", model_version=version).alert for w in windows]


def test_a_single_drifting_window_does_not_alert() -> None:
    assert run(AlertPolicy(DriftConfig()), [report(("age",)), report(), report()]) == [False] * 3


def test_three_of_the_last_five_windows_drifting_alerts() -> None:
    windows = [report(("age",)), report(), report(("age",)), report(), report(("age",))]
    assert run(AlertPolicy(DriftConfig()), windows) == [False, False, False, False, True]


def test_drift_spread_wider_than_n_windows_does_not_alert() -> None:
    d, s = report(("age",)), report()
    assert not any(run(AlertPolicy(DriftConfig()), [d, s, s, d, s, s, d, s, s, d]))


def test_windows_too_small_to_judge_are_skipped_not_counted_as_stable() -> None:
    d, small = report(("age",)), report(judged=False)
    decisions = run(AlertPolicy(DriftConfig()), [d, small, small, d, small, d])
    assert decisions == [False, False, False, False, False, True]


def test_cooldown_keeps_the_same_feature_set_quiet_then_lets_it_alert_again() -> None:
    policy = AlertPolicy(DriftConfig(cooldown_windows=4))
    d = report(("age",))
    assert run(policy, [d] * 8) == [False, False, True, False, False, False, False, True]


def test_a_different_feature_set_or_model_version_alerts_during_cooldown() -> None:
    policy = AlertPolicy(DriftConfig())
    assert run(policy, [report(("age",))] * 3) == [False, False, True]
    assert run(policy, [report(("age", "total_charges"))]) == [True]
    assert run(policy, [report(("age",))] * 3, version=2) == [False, False, True]


def test_policy_state_survives_a_checkpoint() -> None:
    config = DriftConfig()
    policy = AlertPolicy(config)
    run(policy, [report(("age",))] * 3)
    restored = AlertPolicy.from_dict(json.loads(json.dumps(policy.to_dict())), config)
    assert run(restored, [report(("age",))]) == [False]  # still cooling down
    assert run(restored, [report(("age", "tenure_months"))]) == [True]


@pytest.mark.parametrize(
    ("drifting", "psi", "severity"),
    [
        (("age",), 0.3, "medium"),
        (("age",), 0.6, "high"),
        (("age", "tenure_months", "total_charges"), 0.3, "high"),
        (("age", "tenure_months"), 0.3, "medium"),
    ],
)
def test_severity_is_high_for_many_features_or_a_large_psi(
    drifting: tuple[str, ...], psi: float, severity: str
) -> None:
    assert AlertPolicy(DriftConfig()).severity(report(drifting, psi=psi)) == severity


def test_m_greater_than_n_is_rejected() -> None:
    with pytest.raises(ValueError, match="must not exceed"):
        DriftConfig(alert_windows=2, alert_min_drifting=3)


def test_drift_alert_from_a_report_carries_every_field_of_the_record() -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    end = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)
    alert = DriftAlert.from_report(
        report(("age",)),
        model_name="churn",
        model_version=4,
        window_start=start,
        window_end=end,
        severity="medium",
        profile_digest="d" * 64,
        offsets=[OffsetRange("customer-events", 0, 100, 250)],
        report_path="reports/x.html",
    )
    record = json.loads(alert.model_dump_json())
    assert set(record) >= {
        "alert_id", "model_name", "model_version", "window_start", "window_end",
        "reference_events", "current_events", "drifting_features", "feature_results",
        "severity", "created_at", "report_path", "offsets", "profile_digest",
    }  # fmt: skip
    assert record["drifting_features"] == ["age"]
    assert record["offsets"] == [
        {
            "topic": "customer-events",
            "partition": 0,
            "first_offset": 100,
            "last_offset": 250,
            "events": None,
        }
    ]
    assert DriftAlert.model_validate_json(alert.model_dump_json()) == alert


def test_alert_id_is_stable_for_a_replayed_window() -> None:
    kwargs = {
        "model_name": "churn",
        "model_version": 1,
        "window_start": datetime(2026, 1, 1, tzinfo=UTC),
        "window_end": datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
        "severity": "high",
        "profile_digest": "e" * 64,
    }
    a = DriftAlert.from_report(report(("age",)), **kwargs)  # type: ignore[arg-type]
    b = DriftAlert.from_report(report(("age",)), **kwargs)  # type: ignore[arg-type]
    c = DriftAlert.from_report(report(("tenure_months",)), **kwargs)  # type: ignore[arg-type]
    assert a.alert_id == b.alert_id != c.alert_id
