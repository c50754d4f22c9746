"""Alert policy (M of N, cooldown, severity), the topic records and the settings section."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from core.performance.config import PerformanceConfig
from core.performance.detector import PerformanceDetector, Verdict
from core.performance.metrics import MetricState
from core.performance.policy import AlertDecision, PerformanceAlertPolicy
from core.performance.records import PerformanceAlert, PerformanceWindow
from core.performance.windows import ClosedWindow


def verdict(failing: bool = False, *, judged: bool = True, value: float = 0.7) -> Verdict:
    if not judged:
        return Verdict(False, "10 labelled predictions, judging needs 200", "accuracy", 0.74, 10)
    interval = (value - 0.03, value + 0.03) if failing else (0.76, 0.82)
    return Verdict(
        True, "", "accuracy", 0.74, 500, value if failing else 0.79, interval, 0.79, failing
    )


def run(policy: PerformanceAlertPolicy, verdicts: list[Verdict], version: int = 1) -> list[bool]:
    return [policy.observe(v, model_name="churn", model_version=version).alert for v in verdicts]


def test_one_failing_window_does_not_alert_two_of_three_do() -> None:
    f, ok = verdict(True), verdict()
    assert run(PerformanceAlertPolicy(PerformanceConfig()), [f, ok, ok, f, ok, f]) == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_windows_not_judged_are_skipped_not_counted_as_healthy() -> None:
    f, small = verdict(True), verdict(judged=False)
    assert run(PerformanceAlertPolicy(PerformanceConfig()), [f, small, small, f]) == [
        False,
        False,
        False,
        True,
    ]


def test_cooldown_keeps_a_persisting_drop_quiet_then_reports_it_again() -> None:
    policy = PerformanceAlertPolicy(PerformanceConfig(cooldown_windows=3))
    decisions = run(policy, [verdict(True)] * 7)
    assert decisions == [False, True, False, False, False, True, False]


def test_a_new_model_version_alerts_at_once_despite_the_cooldown() -> None:
    policy = PerformanceAlertPolicy(PerformanceConfig())
    run(policy, [verdict(True)] * 2, version=1)
    assert run(policy, [verdict(True)] * 2, version=2) == [False, True]


def test_severity_is_high_only_for_a_large_drop_below_the_threshold() -> None:
    policy = PerformanceAlertPolicy(PerformanceConfig(high_severity_drop=0.1))
    assert policy.severity(verdict(True, value=0.70)) == "medium"
    assert policy.severity(verdict(True, value=0.60)) == "high"


def test_policy_state_survives_a_checkpoint_in_json() -> None:
    config = PerformanceConfig()
    policy = PerformanceAlertPolicy(config)
    run(policy, [verdict(True)])
    restored = PerformanceAlertPolicy.from_dict(json.loads(json.dumps(policy.to_dict())), config)
    assert run(restored, [verdict(True)]) == [True]


def closed_window() -> ClosedWindow:
    rng = np.random.default_rng(0)
    p = rng.random(400)
    state = MetricState().update(p, p >= 0.5, 1 - (rng.random(400) < p)).add_predictions(500)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    return ClosedWindow("churn", 3, start, start + 300, state)


def test_a_closed_window_becomes_a_model_performance_record_that_round_trips() -> None:
    window = closed_window()
    detector = PerformanceDetector(metric="accuracy", floor=0.70, baseline=0.79)
    v = detector.update(window.state).verdict
    record = PerformanceWindow.from_window(window, v)
    assert (record.labelled_events, record.predictions, record.coverage) == (400, 500, 0.8)
    assert len(record.calibration) == 10
    assert record.failing
    assert record.interval is not None
    assert record.interval[1] < record.threshold  # type: ignore[operator]
    assert PerformanceWindow.model_validate_json(record.model_dump_json()) == record


def test_an_alert_id_is_the_same_when_a_window_is_replayed() -> None:
    window = closed_window()
    detector = PerformanceDetector(metric="accuracy", floor=0.70, baseline=0.79)
    v = detector.update(window.state).verdict
    decision = AlertDecision(True, "2 of the last 3 windows fail", "high", 2, 3)
    first = PerformanceAlert.from_verdict(window, v, decision)
    again = PerformanceAlert.from_verdict(window, v, decision)
    assert first.alert_id == again.alert_id
    assert (first.metric, first.baseline, first.threshold) == (
        "accuracy",
        0.79,
        pytest.approx(0.74),
    )
    assert first.interval[1] < first.threshold
    assert PerformanceAlert.model_validate_json(first.model_dump_json()) == first


def test_every_record_field_has_a_docstring_or_is_self_explaining() -> None:
    for model in (PerformanceWindow, PerformanceAlert):
        described = {n for n, f in model.model_fields.items() if f.description}
        assert len(described) >= len(model.model_fields) // 2


def test_settings_defaults_are_the_documented_ones() -> None:
    c = PerformanceConfig()
    assert (c.group_id, c.http_port, c.metric, c.floor) == (
        "streamscore-monitor",
        8003,
        "roc_auc",
        0.7,
    )
    assert c.min_labels > 30


def test_settings_refuse_m_greater_than_n_and_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        PerformanceConfig(alert_windows=2, alert_min_drifting=3)
    with pytest.raises(ValidationError):
        PerformanceConfig(window=5)  # type: ignore[call-arg]


def test_every_setting_has_a_docstring() -> None:
    assert all(f.description for f in PerformanceConfig.model_fields.values())
