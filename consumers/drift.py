"""The drift watcher: windows of `customer-events` compared with the production model's
reference profile, alerts on `drift-alerts`.

Restarts lose and repeat nothing: each batch's transaction carries the batch's offsets,
any alerts, and a checkpoint of the open windows and the alert policy (to the compacted
`drift_state` topic, through `core.kafka.changelog`, keyed by group id). On start the
last checkpoint is read back, so window state always matches the committed offsets.
One watcher runs per group: its state is the whole group's (scale-out is future work).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.drift.judge import Reference, iso, judge, write_report
from core.drift.policy import AlertPolicy
from core.drift.window_record import DriftWindowRecord
from core.drift.windows import Window, WindowManager
from core.event_columns import decode_columns
from core.follower import ProductionFollower
from core.kafka.changelog import WHOLE_GROUP, CheckpointStore
from core.kafka.model_events import follow_production
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.service import ConsumerSpec, run_consumer
from core.records import OutRecord, Record, coordinates
from core.registry import NoProductionModel
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.settings import Settings

SERVICE = "drift"
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.windows = Counter(
            "streamscore_drift_windows_closed", "Windows closed", ["verdict"], registry=registry
        )
        self.alerts = Counter(
            "streamscore_drift_alerts", "Alerts emitted", ["severity"], registry=registry
        )
        self.late = Gauge(
            "streamscore_drift_late_events", "Events after their window closed", registry=registry
        )
        self.invalid = Counter(
            "streamscore_drift_invalid_events", "Invalid events skipped", registry=registry
        )
        self.profile_version = Gauge(
            "streamscore_drift_profile_version",
            "Model version whose profile is used",
            registry=registry,
        )


class DriftHandler(BatchHandler):
    def __init__(
        self,
        settings: Settings,
        follower: ProductionFollower[Reference],
        metrics: DriftMetrics,
        store: CheckpointStore,
        restored: bytes | None = None,
    ) -> None:
        self._settings = settings
        self._config = settings.drift
        self._follower = follower
        self._name = settings.registry.model_name
        self._metrics = metrics
        self._log = structlog.get_logger(SERVICE)
        self._reports = settings.state_dir / "reports"
        self.reference: Reference | None = None
        self.windows: WindowManager | None = None
        self.policy = AlertPolicy(self._config)
        self._backlog: list[int] = []
        self._store = store
        self._committed: dict[str, Any] | None = json.loads(restored) if restored else None
        """The checkpoint of the last committed batch: what an aborted batch returns to."""
        self._uncommitted: dict[str, Any] | None = None
        if self._committed is not None:
            self._restore(self._committed)

    def ready(self) -> bool:
        return self.reference is not None or self._follower.current is not None

    def close(self) -> None:
        self._follower.close()

    def on_assigned(self, assignment: Assignment) -> None:
        """Event-time windows wait for backlogged partitions' first events before closing."""
        self._backlog = assignment.backlogged()
        if self.windows is not None:
            self.windows.track_partitions(self._backlog)

    def status(self) -> dict[str, Any]:
        ref, windows = self.reference, self.windows
        return {
            "model_name": self._name,
            "profile_version": ref.version if ref else None,
            "open_windows": len(windows.open) if windows else 0,
            "late_events": windows.late_events if windows else 0,
        }

    def idle(self) -> None:
        self._follower.refresh()
        if self.reference is None and self._follower.current is not None:
            self._switch(self._follower.current)

    def _pending(self) -> Reference | None:
        """A newer production profile than the one windows are judged against."""
        latest = self._follower.current
        if latest is None or (
            self.reference is not None and latest.version == self.reference.version
        ):
            return None
        return latest

    def batch_committed(self) -> None:
        if self._uncommitted is not None:
            self._committed, self._uncommitted = self._uncommitted, None

    def batch_aborted(self) -> None:
        """The windows already absorbed the aborted batch, which is consumed again: back to
        the last committed checkpoint (or to empty windows), so it is counted once."""
        self._uncommitted = None
        if self._committed is not None:
            self._restore(self._committed)
        elif self.reference is not None:
            self.windows = WindowManager.from_config(self.reference.profile, self._config)
            self.policy = AlertPolicy(self._config)
        if self.windows is not None:
            self.windows.track_partitions(self._backlog)

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        self._uncommitted = None
        out: list[OutRecord] = []
        pending = self._pending()
        if pending is not None:
            out.extend(self._judge(self.windows.flush() if self.windows else []))
            self._switch(pending)
        if self.windows is None:
            raise NoProductionModel(self._name)
        decoded = decode_columns(batch, self._settings.validation.max_event_bytes)
        self._metrics.invalid.inc(decoded.invalid)
        if decoded.valid:
            topic, _, _ = coordinates(batch[0])
            closed = self.windows.add_batch(
                decoded.event_times,
                decoded.columns,
                topic=topic,
                partitions=decoded.partitions,
                offsets=decoded.offsets,
            )
            out.extend(self._judge(closed))
            self._metrics.late.set(self.windows.late_events)
        out.append(self._checkpoint())
        return out

    def _judge(self, closed: list[Window]) -> list[OutRecord]:
        reference = self.reference
        if reference is None:
            return []
        out = []
        for window in closed:
            judged = judge(window, reference, self.policy, self._config, model_name=self._name)
            self._metrics.windows.labels(judged.verdict).inc()
            self._log.info(
                "window_closed",
                window_start=iso(window.start),
                window_end=iso(window.end),
                events=window.events,
                verdict=judged.verdict,
                drifting_features=judged.report.drifting_features,
                alert=judged.decision.alert,
                reason=judged.decision.reason,
                model_version=reference.version,
            )
            record = DriftWindowRecord.of(
                judged,
                model_name=self._name,
                model_version=reference.version,
                late_events=self.windows.late_events if self.windows else 0,
            )
            topics = self._settings.topics
            key = self._name.encode()
            out.append(
                OutRecord(topics.drift_windows, record.model_dump_json().encode(), key, _HEADERS)
            )
            if judged.alert is None:
                continue
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
            out.append(
                OutRecord(self._settings.topics.alerts, value, self._name.encode(), _HEADERS)
            )
        return out

    def _switch(self, pending: Reference) -> None:
        previous = self.reference.version if self.reference else None
        self.reference = pending
        self.windows = WindowManager.from_config(pending.profile, self._config)
        self.windows.track_partitions(self._backlog)
        self._metrics.profile_version.set(pending.version)
        self._log.info("reference_profile_loaded", model_version=pending.version, previous=previous)

    def _checkpoint(self) -> OutRecord:
        if self.windows is None or self.reference is None:
            raise NoProductionModel(self._name)
        state = {
            "model_version": self.reference.version,
            "windows": base64.b64encode(self.windows.to_bytes()).decode(),
            "policy": self.policy.to_dict(),
        }
        self._uncommitted = state
        return self._store.record(json.dumps(state).encode())

    def _restore(self, state: dict[str, Any]) -> None:
        version = int(state["model_version"])
        reference = self.reference
        if reference is None or reference.version != version:
            reference = self._follower.load(version)
        self.reference = reference
        self.windows = WindowManager.from_bytes(
            base64.b64decode(state["windows"]), reference.profile
        )
        self.policy = AlertPolicy.from_dict(state["policy"], self._config)
        self._metrics.profile_version.set(reference.version)
        self._log.info(
            "window_state_restored",
            model_version=reference.version,
            open_windows=len(self.windows.open),
            events_seen=self.windows.seen,
        )


def _skip_batch(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """The watcher only observes: a batch it cannot judge is logged and passed over (the
    scorer dead-letters bad events; nothing here may block the scoring path)."""
    structlog.get_logger(SERVICE).error(
        "drift_batch_skipped", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    return []


def run_drift(settings: Settings, stop: threading.Event) -> None:
    """Watch for drift until `stop` is set; /health and /metrics served meanwhile."""
    config = settings.drift
    spec = ConsumerSpec.from_config(
        SERVICE,
        config,
        [settings.topics.events],
        _skip_batch,
        transactional_id=f"{config.group_id}-watcher",
    )

    def handler(registry: CollectorRegistry) -> DriftHandler:
        store = CheckpointStore(settings, settings.topics.drift_state, config.group_id)
        restored = store.restore().get(WHOLE_GROUP)
        follower = follow_production(settings, Reference.load)
        return DriftHandler(settings, follower, DriftMetrics(registry), store, restored)

    run_consumer(settings, stop, spec, handler)
