"""Judging windows: calibrated false-alarm rate on a stable stream, fast on concept drift."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.performance.config import PerformanceConfig
from core.performance.detector import PerformanceDetector
from core.performance.metrics import MetricState
from core.performance.monitor import PerformanceMonitor
from core.performance.policy import PerformanceAlertPolicy
from core.schemas import Outcome, Prediction, RiskLevel
from producers.generator import ChurnGenerator
from producers.scenarios import ConceptDrift

WINDOWS = 400
LABELS = 500


@pytest.fixture(scope="module")
def stable() -> tuple[np.ndarray, np.ndarray]:
    """A fixed, perfectly calibrated model on the stable churn stream: its probability
    is the true churn probability and labels are drawn from it."""
    batch = ChurnGenerator(seed=7).batch(WINDOWS * LABELS)
    return batch.churn_probability, batch.churned.astype(int)


def windows_of(p: np.ndarray, y: np.ndarray, size: int = LABELS) -> list[MetricState]:
    return [
        MetricState().update(p[i : i + size], (p[i : i + size] >= 0.5).astype(int), y[i : i + size])
        for i in range(0, len(p) - size + 1, size)
    ]


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_a_model_exactly_at_its_threshold_fails_windows_at_most_at_the_configured_rate(
    stable: tuple[np.ndarray, np.ndarray], metric: str
) -> None:
    p, y = stable
    truth = float(np.maximum(p, 1 - p).mean()) if metric == "accuracy" else roc_auc_score(y, p)
    config = PerformanceConfig(metric=metric, floor=truth, confidence=0.99)  # type: ignore[arg-type]
    detector = PerformanceDetector.from_config(config)
    failing = sum(detector.update(w).drift_detected for w in windows_of(p, y))
    # (1 - 0.99) / 2 = 0.005 per window: 2 expected in 400; 9 or more has p < 3e-4.
    assert failing <= 8


def test_the_default_rule_never_alerts_on_a_stable_calibrated_model(
    stable: tuple[np.ndarray, np.ndarray],
) -> None:
    p, y = stable
    config = PerformanceConfig()
    detector = PerformanceDetector.from_config(config, baseline=0.835)  # its holdout roc_auc
    assert detector.threshold == pytest.approx(0.785)
    policy = PerformanceAlertPolicy(config)
    decisions = [
        policy.observe(detector.update(w).verdict, model_name="churn", model_version=1)
        for w in windows_of(p, y)
    ]
    assert all(d.windows_considered for d in decisions)
    assert not any(d.alert for d in decisions)


def test_windows_of_30_labels_are_never_judged_so_never_alert() -> None:
    config = PerformanceConfig()
    detector = PerformanceDetector.from_config(config, baseline=0.79)
    policy = PerformanceAlertPolicy(config)
    all_wrong = MetricState().update(np.full(30, 0.9), np.ones(30, int), np.zeros(30, int))
    for _ in range(50):
        verdict = detector.update(all_wrong).verdict
        assert not verdict.judged
        assert verdict.reason == "30 labelled predictions, judging needs 200"
        assert not policy.observe(verdict, model_name="churn", model_version=1).alert


def test_a_window_fails_below_the_floor_or_below_the_holdout_figure_minus_margin() -> None:
    """Either rule suffices (issue 11): the threshold is the higher of the two."""
    assert PerformanceDetector(floor=0.70, margin=0.05, baseline=0.835).threshold == pytest.approx(
        0.785
    )
    assert PerformanceDetector(floor=0.70, margin=0.05, baseline=0.72).threshold == 0.70
    assert PerformanceDetector(floor=0.70).threshold == 0.70


def test_an_accuracy_floor_of_0_80_fails_a_calibrated_model_so_it_is_not_the_default(
    stable: tuple[np.ndarray, np.ndarray],
) -> None:
    """Even the true churn probability is right only 79.4 % of the time on this data: a
    window of 200,000 labels is confidently below the seed's 0.80 accuracy floor, while
    the default roc_auc rule passes the very same window."""
    p, y = stable
    assert float(np.maximum(p, 1 - p).mean()) == pytest.approx(0.794, abs=0.002)
    window = windows_of(p, y, size=len(p))[0]
    accuracy = PerformanceDetector(metric="accuracy", floor=0.80).update(window).verdict
    assert accuracy.failing
    default = PerformanceDetector.from_config(PerformanceConfig(), baseline=0.835)
    assert default.update(window).verdict.judged
    assert not default.verdict.failing


def test_a_window_below_the_threshold_but_within_noise_is_not_failing() -> None:
    state = MetricState().update(
        np.full(200, 0.9), np.ones(200, int), np.r_[np.ones(145), np.zeros(55)]
    )
    verdict = PerformanceDetector(metric="accuracy", floor=0.75).update(state).verdict
    assert verdict.value == pytest.approx(0.725)
    assert not verdict.failing
    assert "not confidently below" in verdict.reason


def test_roc_auc_needs_both_classes() -> None:
    state = MetricState().update(
        np.full(300, 0.4), np.zeros(300, int), np.r_[np.ones(5), np.zeros(295)]
    )
    verdict = PerformanceDetector(metric="roc_auc").update(state).verdict
    assert not verdict.judged
    assert "rarer class" in verdict.reason


def drifted_stream(n: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """The stable model's probabilities, with labels from the concept-drift scenario: same
    seed, same features, so only the churn relation changes from event ``start`` on."""
    p = ChurnGenerator(seed=3).batch(n).churn_probability
    y = ChurnGenerator(seed=3, scenarios=[ConceptDrift(start_event=start)]).batch(n).churned
    return p, y.astype(int)


@pytest.mark.parametrize("metric", ["accuracy", "roc_auc"])
def test_concept_drift_alerts_within_two_windows_end_to_end(metric: str) -> None:
    """Predictions and outcomes go through the monitor as the consumer will hand them
    over: 100 predictions per second, 5-s windows, outcomes 2 s later."""
    per_window, stable_windows = 500, 6
    p, y = drifted_stream(per_window * 10, start=per_window * stable_windows)
    config = PerformanceConfig(
        metric=metric,  # type: ignore[arg-type]
        floor=0.80 if metric == "accuracy" else 0.70,
        window_seconds=5,
        label_delay_s=3,
    )
    baseline = 0.794 if metric == "accuracy" else 0.835
    monitor = PerformanceMonitor(config, {("churn", 1): baseline})
    epoch = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    results = []
    labels = y.tolist()
    for i, prob in enumerate(p.tolist()):
        t = epoch + i / 100
        prediction = Prediction(
            event_id=f"e{i}",
            customer_id=f"c{i}",
            prediction=int(prob >= 0.5),
            probability=prob,
            risk_level=RiskLevel.of(prob),
            model_name="churn",
            model_version=1,
            scored_at=datetime.fromtimestamp(t, UTC),
        )
        monitor.add_prediction(prediction, event_time=t)
        if i >= 200:  # outcomes 2 s behind their predictions
            j = i - 200
            observed = datetime.fromtimestamp(epoch + j / 100 + 2, UTC)
            monitor.add_outcome(
                Outcome(
                    event_id=f"e{j}", customer_id=f"c{j}", churned=labels[j], observed_at=observed
                )
            )
        if i % 100 == 99:
            results += monitor.advance(t - 1)
    results += monitor.flush()
    failing = [r.record.failing for r in results]
    alerts = [k for k, r in enumerate(results) if r.alert is not None]
    assert failing[:stable_windows] == [False] * stable_windows
    assert alerts[0] <= stable_windows + 1
    assert results[alerts[0]].alert.severity == "high"  # type: ignore[union-attr]
    assert len(alerts) == 1  # then the cooldown keeps it quiet
