"""The drift watcher: windows of `customer-events` compared with the production model's
reference profile, alerts on `drift-alerts`.

Restarts lose and repeat nothing: each batch's transaction carries the batch's offsets,
any alerts, and a checkpoint of the open windows and the alert policy (to the compacted
`drift_state` topic, keyed by group id). On start the last checkpoint is read back, so
window state always matches the committed offsets. One watcher runs per group.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.drift.alert import DriftAlert
from core.drift.evaluate import evaluate
from core.drift.html import render_html
from core.drift.policy import AlertPolicy
from core.drift.profile import ReferenceProfile
from core.drift.windows import Window, WindowManager
from core.event_columns import decode_columns
from core.follower import ProductionFollower
from core.health import HealthServer
from core.kafka.admin import check_reachable
from core.kafka.config import consumer_config
from core.kafka.model_events import follow_production
from core.kafka.processor import BatchProcessor
from core.records import OutRecord, Record, coordinates
from core.registry import ModelRegistry, NoProductionModel
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


class Reference:
    """The production version's reference profile, as the watcher compares against it."""

    def __init__(self, version: int, profile: ReferenceProfile, digest: str) -> None:
        self.version = version
        self.profile = profile
        self.digest = digest

    @classmethod
    def load(cls, registry: ModelRegistry, name: str, version: int) -> Reference:
        info = registry.get(name, version)
        profile = ReferenceProfile.from_dict(registry.reference_profile(name, version))
        return cls(version, profile, info.profile_digest)


class DriftHandler:
    def __init__(
        self,
        settings: Settings,
        follower: ProductionFollower[Reference],
        metrics: DriftMetrics,
        restored: dict[str, Any] | None = None,
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
        if restored is not None:
            self._restore(restored)

    def ready(self) -> bool:
        return self.reference is not None or self._follower.current is not None

    def close(self) -> None:
        self._follower.close()

    def partitions_with_backlog(self, partitions: list[int]) -> None:
        """Event-time windows wait for these partitions' first events before closing."""
        self._backlog = partitions
        if self.windows is not None:
            self.windows.track_partitions(partitions)

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

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
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
        if self.reference is None:
            return []
        out = []
        for window in closed:
            report = evaluate(self.reference.profile, window.state, self._config)
            decision = self.policy.observe(
                report, model_name=self._name, model_version=self.reference.version
            )
            verdict = (
                "skipped" if not report.judged else "drift" if report.drift_detected else "stable"
            )
            self._metrics.windows.labels(verdict).inc()
            self._log.info(
                "window_closed",
                window_start=_iso(window.start),
                window_end=_iso(window.end),
                events=window.events,
                verdict=verdict,
                drifting_features=report.drifting_features,
                alert=decision.alert,
                reason=decision.reason,
                model_version=self.reference.version,
            )
            if not decision.alert or decision.severity is None:
                continue
            alert = DriftAlert.from_report(
                report,
                model_name=self._name,
                model_version=self.reference.version,
                window_start=datetime.fromtimestamp(window.start, UTC),
                window_end=datetime.fromtimestamp(window.end, UTC),
                severity=decision.severity,
                profile_digest=self.reference.digest,
                offsets=window.offset_ranges(),
                windows_drifting=decision.windows_drifting,
                windows_considered=decision.windows_considered,
            )
            path = self._write_report(alert.alert_id, report, window)
            alert = alert.model_copy(update={"report_path": str(path)})
            self._metrics.alerts.labels(decision.severity).inc()
            self._log.warning(
                "drift_alert",
                alert_id=alert.alert_id,
                severity=alert.severity,
                drifting_features=alert.drifting_features,
                report_path=alert.report_path,
            )
            out.append(
                OutRecord(
                    self._settings.topics.alerts,
                    alert.model_dump_json().encode(),
                    self._name.encode(),
                    _HEADERS,
                )
            )
        return out

    def _write_report(self, alert_id: str, report: Any, window: Window) -> Path:
        self._reports.mkdir(parents=True, exist_ok=True)
        path = (self._reports / f"drift-{alert_id}.html").resolve()
        version = self.reference.version if self.reference else "?"
        html = render_html(
            report,
            title=f"Drift alert · {self._name} v{version}",
            reference_label="training reference",
            current_label=f"window {_clock(window.start)} to {_clock(window.end)}",
        )
        path.write_text(html, encoding="utf-8")
        return path

    def _switch(self, pending: Reference) -> None:
        previous = self.reference.version if self.reference else None
        self.reference = pending
        self.windows = WindowManager.from_config(pending.profile, self._config)
        self.windows.track_partitions(self._backlog)
        self._metrics.profile_version.set(pending.version)
        self._log.info("reference_profile_loaded", model_version=pending.version, previous=previous)

    def _checkpoint(self) -> OutRecord:
        if self.windows is None or self.reference is None:
            raise RuntimeError("checkpoint before a reference profile was loaded")
        state = {
            "model_version": self.reference.version,
            "windows": base64.b64encode(self.windows.to_bytes()).decode(),
            "policy": self.policy.to_dict(),
        }
        return OutRecord(
            self._settings.topics.drift_state,
            json.dumps(state).encode(),
            self._config.group_id.encode(),
        )

    def _restore(self, state: dict[str, Any]) -> None:
        reference = self._follower.load(int(state["model_version"]))
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


def read_checkpoint(settings: Settings) -> dict[str, Any] | None:
    """The last committed checkpoint of this group, read to the end of the changelog."""
    topic, key = settings.topics.drift_state, settings.drift.group_id.encode()
    consumer = Consumer(
        consumer_config(settings, f"{settings.drift.group_id}-restore-{uuid.uuid4().hex[:8]}")
    )
    try:
        tp = TopicPartition(topic, 0)
        _, high = consumer.get_watermark_offsets(tp, timeout=settings.kafka.timeout_s)
        if high <= 0:
            return None
        consumer.assign([TopicPartition(topic, 0, 0)])
        latest: bytes | None = None
        deadline = time.monotonic() + settings.kafka.timeout_s * 3
        position = 0
        while position < high and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    continue
                position = (msg.offset() or 0) + 1
                if msg.key() == key:
                    latest = msg.value()
            # Transaction markers take offsets too: stop once the consumer's position passes them.
            positions = consumer.position([TopicPartition(topic, 0)])
            position = max(position, positions[0].offset)
        return json.loads(latest) if latest else None
    finally:
        consumer.close()


def _clock(seconds: float) -> str:
    """A window bound as people read it in a report title."""
    if not np.isfinite(seconds):
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat() if np.isfinite(seconds) else "-"


def _skip_batch(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """The watcher only observes: a batch it cannot judge is logged and passed over (the
    scorer dead-letters bad events; nothing here may block the scoring path)."""
    structlog.get_logger(SERVICE).error(
        "drift_batch_skipped", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    return []


def run_drift(settings: Settings, stop: threading.Event) -> None:
    log = structlog.get_logger(SERVICE)
    check_reachable(settings)
    registry = CollectorRegistry()
    metrics = DriftMetrics(registry)
    handler = DriftHandler(
        settings, follow_production(settings, Reference.load), metrics, read_checkpoint(settings)
    )
    handler.idle()
    processor = BatchProcessor(
        settings,
        name=SERVICE,
        group_id=settings.drift.group_id,
        topics=[settings.topics.events],
        handler=handler,
        on_error=_skip_batch,
        batch_size=settings.drift.batch_size,
        batch_timeout_s=settings.drift.batch_timeout_ms / 1000,
        delivery="exactly-once",
        transactional_id=f"{settings.drift.group_id}-watcher",
        registry=registry,
    )

    def status() -> dict[str, Any]:
        ref = handler.reference
        return {
            "status": "healthy" if ref is not None else "degraded",
            "service": SERVICE,
            "model_name": settings.registry.model_name,
            "profile_version": ref.version if ref else None,
            "open_windows": len(handler.windows.open) if handler.windows else 0,
            "late_events": handler.windows.late_events if handler.windows else 0,
            "input_paused": processor.paused,
            "last_batch_time": processor.last_batch_at,
        }

    health = HealthServer(status, registry, settings.drift.http_port).start()
    log.info("drift_started", group_id=settings.drift.group_id, http_port=health.port)
    try:
        processor.run(stop)
    finally:
        health.stop()
        handler.close()
        log.info("drift_stopped")
