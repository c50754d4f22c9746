"""The whole loop on the real broker, under concept drift: features keep their
distribution and only the churn relation turns round. The drift watcher cannot see it;
the performance monitor can, and its alert makes the retrainer train on the newest
labelled events, gate, promote, and the new version's live quality recovers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumers.performance import run_monitor
from consumers.retrainer import run_retrainer
from consumers.scorer import run_scorer
from core.performance.records import PerformanceAlert, PerformanceWindow
from core.registry import ModelRegistry
from core.retraining.decision import RetrainDecision
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.scenarios import ConceptDrift
from tests.integration.kafka_io import read_committed, running
from tests.integration.test_monitor import publish_stream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHUNK = 1000


def test_a_performance_alert_under_concept_drift_retrains_and_live_quality_recovers(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    v1 = register_model()
    settings.registry.poll_s = 0.5
    settings.monitor.window_seconds = 2.0
    settings.monitor.label_delay_s = 3.0
    settings.monitor.batch_timeout_ms = 200
    r = settings.retrain
    # Generated event times start at 2026-01-01; keep only the newest labelled events,
    # which by the time of the alert are all drifted.
    r.lookback_s, r.max_events, r.min_labelled_rows = 400 * 86_400.0, 2500, 1000
    r.bootstrap_resamples, r.batch_timeout_ms, r.cooldown_s = 200, 200, 0
    drift_from = 3000
    generator = ChurnGenerator(seed=41, scenarios=[ConceptDrift(start_event=drift_from)])
    with (
        running(run_scorer, settings),
        running(run_monitor, settings),
        running(run_retrainer, settings),
    ):
        # Event time only moves while events flow: keep publishing until the loop closes.
        registry, sent, promoted = ModelRegistry(settings.registry.path), 0, v1
        while promoted == v1 and sent < 40 * CHUNK:
            publish_stream(settings, generator, CHUNK, sent)
            sent += CHUNK
            promoted = registry.production_version("churn") or v1
        assert promoted > v1, "no retrained version was promoted"
        for _ in range(8):
            publish_stream(settings, generator, CHUNK, sent)
            sent += CHUNK
        windows = [
            PerformanceWindow.model_validate_json(m.value())
            for m in read_committed(settings, settings.topics.performance, 1, idle_s=4)
        ]
        alerts = [
            PerformanceAlert.model_validate_json(m.value())
            for m in read_committed(settings, settings.topics.performance_alerts, 1, idle_s=1)
        ]
        decisions = [
            RetrainDecision.model_validate_json(m.value())
            for m in read_committed(settings, settings.topics.retrain_decisions, 1, idle_s=1)
        ]
    assert alerts
    assert alerts[0].model_version == v1
    assert [d.outcome for d in decisions].count("promoted") == 1
    assert read_committed(settings, settings.topics.alerts, 0, idle_s=0.5) == []

    def judged_auc(version: int) -> list[float]:
        return [
            w.metrics["roc_auc"]
            for w in windows
            if w.model_version == version and w.judged and w.metrics["roc_auc"] is not None
        ]

    assert min(judged_auc(v1)[-2:]) < 0.5, "v1 was not failing under the drift"
    recovered = judged_auc(promoted)
    assert recovered, "no judged window of the retrained version"
    assert sum(recovered) / len(recovered) > 0.75
