"""The drift judge: every partition's window shares merged, each window judged once.

It reads `drift_partials` (one partition) in its own group, `<drift group>-judge`, so of
all the watchers of a group exactly one judges at a time (`core.kafka.window_judge`);
each judged window publishes a `drift-windows` record, and an alert when the policy
fires. How windows become final: `core.merge_board`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from consumers.drift_metrics import SERVICE, DriftMetrics
from core.drift.judge import Reference, iso, judge, write_report
from core.drift.partitioned import merge_windows, read_window
from core.drift.policy import AlertPolicy
from core.drift.window_record import DriftWindow
from core.drift.window_state import WindowStateError
from core.drift.windows import Window
from core.kafka.admin import input_partitions
from core.kafka.changelog import CheckpointStore
from core.kafka.service import ConsumerSpec
from core.kafka.window_judge import WindowJudge
from core.kafka.window_judge import judge_spec as window_judge_spec
from core.merge_board import FinalWindow, MergeBoard
from core.records import OutRecord
from core.registry import ModelRegistry
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.settings import Settings
from core.window_shares import WindowShare

JUDGE = "drift-judge"
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class DriftJudge(WindowJudge[Window]):
    def __init__(
        self,
        settings: Settings,
        metrics: DriftMetrics,
        store: CheckpointStore,
        partitions: Callable[[], int],
        registry: ModelRegistry,
    ) -> None:
        log = structlog.get_logger(SERVICE).bind(role="judge")
        super().__init__(store, partitions, log, WindowStateError)
        self._settings = settings
        self._config = settings.drift
        self._metrics = metrics
        self._registry = registry
        self._reports = settings.state_dir / "reports"
        self._windows = settings.topics.drift_windows
        self._references: dict[tuple[str, int], Reference] = {}
        self.policy = AlertPolicy(self._config)

    def merge(self, a: Window, b: Window) -> Window:
        return merge_windows(a, b)

    def read_share(self, share: WindowShare) -> Window:
        if share.model_version is None:
            raise ValueError("a drift window share needs a model version")
        reference = self._reference(share.model_name, share.model_version)
        return read_window(share.packed_state(), reference.profile)

    def encode(self, state: Window) -> Any:
        return state.to_dict()

    def decode(self, model_version: int, data: Any) -> Window:
        name = self._settings.registry.model_name
        return Window.from_dict(data, self._reference(name, model_version).profile)

    def policy_state(self) -> dict[str, Any]:
        return self.policy.to_dict()

    def restore_policy(self, data: dict[str, Any] | None) -> None:
        self.policy = (
            AlertPolicy(self._config) if data is None else AlertPolicy.from_dict(data, self._config)
        )

    def observe(self, board: MergeBoard[Window]) -> None:
        self._metrics.late_shares.set(board.late_events)
        self._metrics.pending.set(len(board.pending))

    def judge(self, final: FinalWindow[Window]) -> list[OutRecord]:
        reference = self._reference(final.model_name, final.model_version)
        window = final.state
        judged = judge(window, reference, self.policy, self._config, model_name=final.model_name)
        self._metrics.windows.labels(judged.verdict).inc()
        self._metrics.observe(judged.report)
        self._log.info(
            "window_closed",
            window_start=iso(window.start),
            window_end=iso(window.end),
            events=window.events,
            partitions=final.partitions,
            verdict=judged.verdict,
            drifting_features=judged.report.drifting_features,
            alert=judged.decision.alert,
            reason=judged.decision.reason,
            model_version=reference.version,
        )
        record = DriftWindow.from_judgement(
            judged, final.model_name, final.model_version, final.partitions
        )
        key = final.model_name.encode()
        out = [OutRecord(self._windows, record.model_dump_json().encode(), key, _HEADERS)]
        if judged.alert is None:
            return out
        alert = write_report(judged, self._reports)
        self._metrics.alerts.labels(alert.severity).inc()
        self._log.warning(
            "drift_alert",
            alert_id=alert.alert_id,
            severity=alert.severity,
            drifting_features=alert.drifting_features,
            report_path=alert.report_path,
        )
        value = alert.model_dump_json().encode()
        return [*out, OutRecord(self._settings.topics.alerts, value, key, _HEADERS)]

    def _reference(self, name: str, version: int) -> Reference:
        key = (name, version)
        found = self._references.get(key)
        if found is None:
            found = self._references[key] = Reference.load(self._registry, name, version)
        return found


def judge_spec(settings: Settings) -> ConsumerSpec:
    config = settings.drift
    return window_judge_spec(
        JUDGE,
        SERVICE,
        config.group_id,
        settings.topics.drift_partials,
        config.instance_id,
        config.batch_timeout_ms,
        "drift judge",
    )


def build_judge(settings: Settings, metrics: DriftMetrics) -> DriftJudge:
    group = f"{settings.drift.group_id}-judge"
    store = CheckpointStore(settings, settings.topics.drift_state, group)
    registry = ModelRegistry(settings.registry.path, settings.registry.on_version_mismatch)
    return DriftJudge(
        settings,
        metrics,
        store,
        lambda: input_partitions(settings, settings.topics.events),
        registry,
    )
