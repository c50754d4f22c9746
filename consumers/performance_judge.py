"""The performance judge: every partition's window shares merged, each window judged once.

The monitor's counterpart of `consumers.drift_judge`: it reads `monitor_partials` (one
partition) in the group `<monitor group>-judge`, so one monitor of the group judges at a
time (`core.kafka.window_judge`); each judged window publishes a `model-performance`
record, and an alert when the policy fires. 2 monitors give the figures 1 gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from consumers.performance import _FIGURES, _HEADERS, SERVICE, Baselines, MonitorMetrics
from core.kafka.admin import input_partitions
from core.kafka.changelog import CheckpointStore
from core.kafka.service import ConsumerSpec
from core.kafka.window_judge import WindowJudge
from core.kafka.window_judge import judge_spec as window_judge_spec
from core.merge_board import FinalWindow
from core.packing import unpack
from core.performance.config import PerformanceConfig
from core.performance.metrics import MetricState
from core.performance.monitor import WindowResult, judge
from core.performance.partitions import PartitionStateError
from core.performance.policy import PerformanceAlertPolicy
from core.performance.windows import ClosedWindow
from core.records import OutRecord
from core.settings import Settings
from core.window_shares import WindowShare

JUDGE = "monitor-judge"


class MonitorJudge(WindowJudge[MetricState]):
    def __init__(
        self,
        settings: Settings,
        metrics: MonitorMetrics,
        store: CheckpointStore,
        partitions: Callable[[], int],
        baselines: Baselines,
    ) -> None:
        log = structlog.get_logger(SERVICE).bind(role="judge")
        super().__init__(store, partitions, log, PartitionStateError)
        self._topics = settings.topics
        self._config: PerformanceConfig = settings.monitor
        self._metrics = metrics
        self._baselines = baselines
        self.policy = PerformanceAlertPolicy(self._config)

    def merge(self, a: MetricState, b: MetricState) -> MetricState:
        return a.merge(b)

    def read_share(self, share: WindowShare) -> MetricState:
        return MetricState.from_dict(
            unpack(share.packed_state(), PartitionStateError, "window share")
        )

    def encode(self, state: MetricState) -> Any:
        return state.to_dict()

    def decode(self, model_version: int, data: Any) -> MetricState:
        return MetricState.from_dict(data)

    def policy_state(self) -> dict[str, Any]:
        return self.policy.to_dict()

    def restore_policy(self, data: dict[str, Any] | None) -> None:
        self.policy = (
            PerformanceAlertPolicy(self._config)
            if data is None
            else PerformanceAlertPolicy.from_dict(data, self._config)
        )

    def judge(self, final: FinalWindow[MetricState]) -> list[OutRecord]:
        name, version = final.model_name, final.model_version
        _, baseline = self._baselines.lookup(name, version)
        window = ClosedWindow(name, version, final.start, final.end, final.state)
        return self._publish(judge(window, self._config, self.policy, baseline))

    def _publish(self, result: WindowResult) -> list[OutRecord]:
        record, alert = result.record, result.alert
        key = record.model_name.encode()
        verdict = "failing" if record.failing else "passing" if record.judged else "not_judged"
        self._metrics.windows.labels(verdict).inc()
        for name in _FIGURES:
            value = record.metrics.get(name)
            if value is not None:
                self._metrics.window.labels(record.model_name, str(record.model_version), name).set(
                    value
                )
        self._log.info(
            "performance_window_closed",
            model_name=record.model_name,
            model_version=record.model_version,
            window_start=record.window_start.isoformat(),
            window_end=record.window_end.isoformat(),
            predictions=record.predictions,
            labelled=record.labelled_events,
            coverage=record.coverage,
            roc_auc=record.metrics.get("roc_auc"),
            accuracy=record.metrics.get("accuracy"),
            verdict=verdict,
            reason=record.reason,
            alert=alert is not None,
            decision=result.decision.reason,
        )
        out = [
            OutRecord(self._topics.performance, record.model_dump_json().encode(), key, _HEADERS)
        ]
        if alert is not None:
            self._metrics.alerts.labels(alert.severity).inc()
            self._log.warning(
                "performance_alert",
                alert_id=alert.alert_id,
                model_name=alert.model_name,
                model_version=alert.model_version,
                metric=alert.metric,
                value=alert.value,
                interval=list(alert.interval),
                threshold=alert.threshold,
                severity=alert.severity,
            )
            out.append(
                OutRecord(
                    self._topics.performance_alerts, alert.model_dump_json().encode(), key, _HEADERS
                )
            )
        return out


def judge_spec(settings: Settings) -> ConsumerSpec:
    config = settings.monitor
    return window_judge_spec(
        JUDGE,
        SERVICE,
        config.group_id,
        settings.topics.monitor_partials,
        config.instance_id,
        config.batch_timeout_ms,
        "monitor judge",
    )


def build_judge(settings: Settings, metrics: MonitorMetrics, baselines: Baselines) -> MonitorJudge:
    group = f"{settings.monitor.group_id}-judge"
    store = CheckpointStore(settings, settings.topics.monitor_state, group)
    return MonitorJudge(
        settings,
        metrics,
        store,
        lambda: input_partitions(settings, settings.topics.predictions),
        baselines,
    )
