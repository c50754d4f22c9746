"""The drift judge: every partition's window shares merged, each window judged once.

It reads `drift_partials` (one partition) in its own group, `<drift group>-judge`, so of
all the watchers of a group exactly one judges at a time, and a zombie judge is fenced by
the group generation. Per batch, one transaction carries the alerts, the judge's
checkpoint (waiting windows, partition progress, alert policy; whole-group key on
`drift_state`) and the partials offsets: whatever the rebalances, each window is judged
exactly once. How windows become final: `core.merge_board`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from pydantic import ValidationError

from consumers.drift_metrics import SERVICE, DriftMetrics
from core.drift.judge import Reference, iso, judge, write_report
from core.drift.partitioned import merge_windows, read_window
from core.drift.policy import AlertPolicy
from core.drift.window_record import DriftWindow
from core.drift.window_state import WindowStateError
from core.drift.windows import Window
from core.errors import StreamscoreError
from core.kafka.admin import input_partitions
from core.kafka.changelog import WHOLE_GROUP, CheckpointStore
from core.kafka.instance import transactional_id
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.service import ConsumerSpec
from core.merge_board import FinalWindow, Incoming, MergeBoard
from core.packing import pack, unpack
from core.records import OutRecord, Record
from core.registry import ModelRegistry
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.settings import Settings
from core.window_shares import WindowShare

JUDGE = "drift-judge"
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class DriftJudge(BatchHandler):
    def __init__(
        self,
        settings: Settings,
        metrics: DriftMetrics,
        store: CheckpointStore,
        partitions: Callable[[], int],
        registry: ModelRegistry,
    ) -> None:
        self._settings = settings
        self._config = settings.drift
        self._metrics = metrics
        self._store = store
        self._count = partitions
        self._partitions = 0
        """Input partitions, asked for when the judge is assigned (the broker answers then)."""
        self._registry = registry
        self._log = structlog.get_logger(SERVICE).bind(role="judge")
        self._reports = settings.state_dir / "reports"
        self._windows = settings.topics.drift_windows
        self._references: dict[tuple[str, int], Reference] = {}
        self.board: MergeBoard[Window] | None = None
        self.policy = AlertPolicy(self._config)
        self._committed: bytes | None = None
        self._uncommitted: bytes | None = None

    def ready(self) -> bool:
        return True

    def on_assigned(self, assignment: Assignment) -> None:
        """This watcher judges now: resume from the last committed judgement."""
        self._partitions = self._count()
        self._committed = self._store.restore().get(WHOLE_GROUP)
        self._restore(self._committed)
        board = self.board
        self._log.info(
            "judge_assigned",
            pending=len(board.pending) if board else 0,
            partitions=self._partitions,
        )

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
            board = self.board = MergeBoard(self._partitions, merge_windows)
        out: list[OutRecord] = []
        for record in batch:
            try:
                share = WindowShare.model_validate_json(record.value() or b"")
            except ValidationError as exc:
                self._log.error("share_unreadable", error=str(exc).splitlines()[0])
                continue
            window = None
            if share.kind == "share" and share.model_version is not None:
                reference = self._reference(share.model_name, share.model_version)
                window = read_window(share.packed_state(), reference.profile)
            for final in board.add(Incoming.of(share), window):
                out += self._judge(final)
        self._metrics.late_shares.set(board.late_events)
        self._metrics.pending.set(len(board.pending))
        state = self._checkpoint(board)
        self._uncommitted = state
        out.append(self._store.record(state))
        return out

    def _judge(self, final: FinalWindow[Window]) -> list[OutRecord]:
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

    def _checkpoint(self, board: MergeBoard[Window]) -> bytes:
        return pack(
            {"board": board.to_dict(lambda w: w.to_dict()), "policy": self.policy.to_dict()}, 1
        )

    def _restore(self, state: bytes | None) -> None:
        if state is None:
            self.board = MergeBoard(self._partitions, merge_windows)
            self.policy = AlertPolicy(self._config)
            return
        d = unpack(state, WindowStateError, "drift judge checkpoint")
        name = self._settings.registry.model_name

        def decode(version: int, window: Any) -> Window:
            return Window.from_dict(window, self._reference(name, version).profile)

        self.board = MergeBoard.from_dict(d["board"], merge_windows, decode, self._partitions)
        self.policy = AlertPolicy.from_dict(d["policy"], self._config)


class JudgeBatchFailed(StreamscoreError):
    """A batch of window shares could not be judged; nothing of it was committed."""

    hint = "the watcher stops so no window is judged on part of its shares; restart it"


def _stop(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """A batch the judge cannot take must not be committed past: it stops, and its
    restart takes the batch again (nothing of it was judged)."""
    structlog.get_logger(SERVICE).error(
        "judge_batch_failed", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    detail = exc.one_line() if isinstance(exc, StreamscoreError) else repr(exc)
    raise JudgeBatchFailed(f"drift judge: batch of {len(batch)} shares failed: {detail}") from exc


def judge_spec(settings: Settings) -> ConsumerSpec:
    config = settings.drift
    group = f"{config.group_id}-judge"
    return ConsumerSpec(
        service=JUDGE,
        group_id=group,
        topics=[settings.topics.drift_partials],
        batch_size=1000,
        batch_timeout_ms=config.batch_timeout_ms,
        http_port=0,
        on_error=_stop,
        transactional_id=transactional_id(group, config.instance_id),
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
