"""The performance judge: every partition's window shares merged, each window judged once.

The monitor's counterpart of `consumers.drift_judge`: it reads `monitor_partials` (one
partition) in the group `<monitor group>-judge`, so one monitor of the group judges at a
time, and each batch's transaction carries the `model-performance` records, any alerts,
its checkpoint (waiting windows, partition watermarks, alert policy; whole-group key on
`monitor_state`) and the partials offsets. 2 monitors give the figures 1 gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from pydantic import ValidationError

from consumers.performance import _FIGURES, _HEADERS, SERVICE, Baselines, MonitorMetrics
from core.errors import StreamscoreError
from core.kafka.admin import input_partitions
from core.kafka.changelog import WHOLE_GROUP, CheckpointStore
from core.kafka.instance import transactional_id
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.service import ConsumerSpec
from core.merge_board import FinalWindow, Incoming, MergeBoard
from core.packing import pack, unpack
from core.performance.config import PerformanceConfig
from core.performance.metrics import MetricState
from core.performance.monitor import WindowResult, judge
from core.performance.partitions import PartitionStateError
from core.performance.policy import PerformanceAlertPolicy
from core.performance.windows import ClosedWindow
from core.records import OutRecord, Record
from core.settings import Settings
from core.window_shares import WindowShare

JUDGE = "monitor-judge"


class MonitorJudgeFailed(StreamscoreError):
    """A batch of window shares could not be judged; nothing of it was committed."""

    hint = "the monitor stops so no window is judged on part of its shares; restart it"


def _merge(a: MetricState, b: MetricState) -> MetricState:
    return a.merge(b)


class MonitorJudge(BatchHandler):
    def __init__(
        self,
        settings: Settings,
        metrics: MonitorMetrics,
        store: CheckpointStore,
        partitions: Callable[[], int],
        baselines: Baselines,
    ) -> None:
        self._topics = settings.topics
        self._config: PerformanceConfig = settings.monitor
        self._metrics = metrics
        self._store = store
        self._count = partitions
        self._partitions = 0
        """Input partitions, asked for when the judge is assigned (the broker answers then)."""
        self._baselines = baselines
        self._log = structlog.get_logger(SERVICE).bind(role="judge")
        self.board: MergeBoard[MetricState] | None = None
        self.policy = PerformanceAlertPolicy(self._config)
        self._committed: bytes | None = None
        self._uncommitted: bytes | None = None

    def ready(self) -> bool:
        return True

    def on_assigned(self, assignment: Assignment) -> None:
        self._partitions = self._count()
        self._committed = self._store.restore().get(WHOLE_GROUP)
        self._restore(self._committed)
        pending = len(self.board.pending) if self.board else 0
        self._log.info("judge_assigned", pending=pending, partitions=self._partitions)

    def on_revoked(self, partitions: list[tuple[str, int]]) -> None:
        self.board = None

    def batch_committed(self) -> None:
        if self._uncommitted is not None:
            self._committed, self._uncommitted = self._uncommitted, None

    def batch_aborted(self) -> None:
        self._uncommitted = None
        self._restore(self._committed)

    def status(self) -> dict[str, Any]:
        board = self.board
        return {
            "judging": board is not None,
            "pending_windows": len(board.pending) if board else 0,
            "idle_partitions": sorted(board.idle) if board else [],
            "repeated_shares": board.repeated_shares if board else 0,
        }

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        board = self.board
        if board is None:
            board = self.board = MergeBoard(self._partitions, _merge)
        out: list[OutRecord] = []
        for record in batch:
            try:
                share = WindowShare.model_validate_json(record.value() or b"")
            except ValidationError as exc:
                self._log.error("share_unreadable", error=str(exc).splitlines()[0])
                continue
            state = None
            if share.kind == "share":
                state = MetricState.from_dict(
                    unpack(share.packed_state(), PartitionStateError, "window share")
                )
            incoming = Incoming.of(share)
            for final in board.add(incoming, state):
                out += self._judge(final)
        state_bytes = pack(
            {"board": board.to_dict(lambda s: s.to_dict()), "policy": self.policy.to_dict()}, 1
        )
        self._uncommitted = state_bytes
        out.append(self._store.record(state_bytes))
        return out

    def _judge(self, final: FinalWindow[MetricState]) -> list[OutRecord]:
        name, version = final.model_name, final.model_version
        _, baseline = self._baselines.lookup(name, version)
        window = ClosedWindow(name, version, final.start, final.end, final.state)
        return self._publish(judge(window, self._config, self.policy, baseline))

    def _restore(self, state: bytes | None) -> None:
        if state is None:
            self.board = MergeBoard(self._partitions, _merge)
            self.policy = PerformanceAlertPolicy(self._config)
            return
        d = unpack(state, PartitionStateError, "monitor judge checkpoint")
        self.board = MergeBoard.from_dict(
            d["board"], _merge, lambda _v, s: MetricState.from_dict(s), self._partitions
        )
        self.policy = PerformanceAlertPolicy.from_dict(d["policy"], self._config)

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


def _stop(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """A batch the judge cannot take is not committed past: the process stops."""
    structlog.get_logger(SERVICE).error(
        "judge_batch_failed", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    detail = exc.one_line() if isinstance(exc, StreamscoreError) else repr(exc)
    raise MonitorJudgeFailed(f"monitor judge: batch of {len(batch)} shares failed: {detail}")


def judge_spec(settings: Settings) -> ConsumerSpec:
    config = settings.monitor
    group = f"{config.group_id}-judge"
    return ConsumerSpec(
        service=JUDGE,
        group_id=group,
        topics=[settings.topics.monitor_partials],
        batch_size=1000,
        batch_timeout_ms=config.batch_timeout_ms,
        http_port=0,
        on_error=_stop,
        transactional_id=transactional_id(group, config.instance_id),
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
