"""The metrics the alert rules and the dashboard read (ops/prometheus, ops/grafana): each
is exported before its first event, so a rule sees a 0 before it sees a 1."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.drift import DriftMetrics
from consumers.performance import MonitorMetrics
from consumers.retrainer import RetrainMetrics
from consumers.scorer import ScorerMetrics, ScoringHandler
from core.drift.report import DriftReport, FeatureResult, TestResult
from core.follower import ProductionFollower
from core.health import degraded_gauge
from core.registry import ModelRegistry
from core.scoring import LoadedModel
from core.settings import Settings
from tests.models import train_and_register


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_degraded_gauge_follows_readiness_at_scrape_time() -> None:
    registry = CollectorRegistry()
    ready = [False]
    degraded_gauge(registry, "scorer", lambda: ready[0])
    assert sample(registry, "streamscore_degraded", service="scorer") == 1.0
    ready[0] = True
    assert sample(registry, "streamscore_degraded", service="scorer") == 0.0


def test_alert_and_decision_counters_start_at_zero_for_every_label_value() -> None:
    registry = CollectorRegistry()
    DriftMetrics(registry)
    MonitorMetrics(registry)
    RetrainMetrics(registry)
    for severity in ("medium", "high"):
        assert sample(registry, "streamscore_drift_alerts_total", severity=severity) == 0.0
        assert sample(registry, "streamscore_monitor_alerts_total", severity=severity) == 0.0
    for outcome in ("trained", "promoted", "rejected", "skipped"):
        assert sample(registry, "streamscore_retrain_decisions_total", outcome=outcome) == 0.0


def report(judged: bool, ks: float) -> DriftReport:
    feature = FeatureResult(
        name="monthly_charges",
        kind="numeric",
        reference_count=1000,
        current_count=1000,
        current_missing=0,
        reference={},
        current={},
        tests=(TestResult("ks", ks, 0.1, False), TestResult("psi", float("nan"), 0.2, False)),
    )
    return DriftReport(
        features=(feature,),
        reference_rows=1000,
        current_rows=1000,
        judged=judged,
        exact=True,
        alpha=0.01,
        correction="holm",
    )


def test_the_drift_statistic_per_feature_is_the_last_judged_windows() -> None:
    registry = CollectorRegistry()
    metrics = DriftMetrics(registry)
    metrics.observe(report(judged=True, ks=0.31))
    metrics.observe(report(judged=False, ks=0.99))
    value = sample(registry, "streamscore_drift_statistic", feature="monthly_charges", test="ks")
    assert value == 0.31
    assert (
        sample(registry, "streamscore_drift_statistic", feature="monthly_charges", test="psi")
        is None
    )


def test_the_scorer_exports_model_version_zero_until_a_production_model_is_loaded(
    tmp_path: Path,
) -> None:
    settings = Settings(registry={"path": tmp_path / "registry"})
    registry = ModelRegistry(tmp_path / "registry")
    metrics_registry = CollectorRegistry()
    follower = ProductionFollower(registry, "churn", LoadedModel.load, poll_s=0)
    handler = ScoringHandler(settings, follower, ScorerMetrics(metrics_registry))
    assert sample(metrics_registry, "streamscore_model_version", model_name="churn") == 0.0
    version = train_and_register(tmp_path / "registry", seed=1, rows=2000)
    handler.idle()
    assert sample(metrics_registry, "streamscore_model_version", model_name="churn") == version
