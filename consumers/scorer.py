"""The scoring consumer: `customer-events` in, `churn-predictions` and `prediction-logs` out.

A thin wiring of core pieces: `BatchProcessor` (transactions, rebalances, pause),
`parse_event` (validation), `ModelSlot` (hot swap), `dead_letter` and `PiiScrubber`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.health import HealthServer
from core.kafka.admin import check_reachable
from core.kafka.dead_letter import DeadLetterPolicy, dead_letter
from core.kafka.model_events import ModelEventListener
from core.kafka.processor import BatchProcessor
from core.kafka.records import OutRecord, Record, coordinates
from core.registry import ModelRegistry
from core.sanitize import PiiScrubber
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, CustomerEventFields, RiskLevel
from core.serving import ModelSlot, churn_probabilities
from core.settings import Settings
from core.validation import InvalidEvent, parse_event

SERVICE = "scorer"
_ENCODE = msgspec.json.Encoder().encode
"""Compact JSON, datetimes as RFC 3339 and enums by value: about 5x json.dumps."""
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class ScorerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.scored = Counter("streamscore_events_scored", "Events scored", registry=registry)
        self.dead_lettered = Counter(
            "streamscore_events_dead_lettered",
            "Events sent to the dead-letter topic",
            ["error_type"],
            registry=registry,
        )
        self.latency = Histogram(
            "streamscore_scoring_latency_seconds",
            "From a batch's arrival in the scorer to its predictions being ready",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
            registry=registry,
        )
        self.model_version = Gauge(
            "streamscore_model_version",
            "Version of the model being served (0: none)",
            ["model_name"],
            registry=registry,
        )
        self.models_refused = Counter(
            "streamscore_models_refused", "Versions refused at load", registry=registry
        )


class ScoringHandler:
    """Validates, scores and formats one batch; knows nothing of Kafka delivery."""

    def __init__(
        self,
        settings: Settings,
        slot: ModelSlot,
        metrics: ScorerMetrics,
        listener: ModelEventListener | None = None,
    ) -> None:
        self._topics = settings.topics
        self._max_bytes = settings.scorer.max_event_bytes
        # Validation keeps only contract fields, so what may be logged is known up front:
        # the contract's fields minus PII names (and the event id, logged on its own).
        scrub = PiiScrubber([*settings.scorer.pii_fields, "event_id"])
        self._log_fields = frozenset(scrub(dict.fromkeys(CustomerEventFields.__annotations__)))
        self._slot = slot
        self._listener = listener
        self._metrics = metrics
        self._log = structlog.get_logger(SERVICE)
        self._model_name = settings.registry.model_name

    def ready(self) -> bool:
        return self._slot.current is not None

    def idle(self) -> None:
        heard = self._listener.poll() if self._listener is not None else []
        if self._slot.refresh(force=bool(heard)) and self._slot.current is not None:
            self._metrics.model_version.labels(self._model_name).set(self._slot.current.version)

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        started = time.perf_counter()
        loaded = self._slot.current
        if loaded is None:
            raise RuntimeError("process() called with no model loaded")
        now = datetime.now(UTC).isoformat()
        out: list[OutRecord] = self._refusal_logs(now)
        valid: list[tuple[Record, CustomerEventFields]] = []
        for record in batch:
            try:
                valid.append((record, parse_event(record.value(), self._max_bytes)))
            except InvalidEvent as exc:
                out.append(dead_letter(record, self._topics.dlq, exc.error_type, str(exc)))
                out.append(self._error_log(record, exc, now))
                self._metrics.dead_lettered.labels(exc.error_type).inc()
        if not valid:
            return out
        probabilities = churn_probabilities(loaded, [event for _, event in valid])
        latency_ms = (time.perf_counter() - started) * 1000
        threshold, name, version = loaded.threshold, loaded.name, loaded.version
        encode, log_fields = _ENCODE, self._log_fields
        for (record, event), p in zip(valid, probabilities.tolist(), strict=True):
            event_id = event.get("event_id") or "{}:{}:{}".format(*coordinates(record))
            customer_id = event["customer_id"]
            key = customer_id.encode()
            prediction: dict[str, Any] = {
                "event_id": event_id,
                "customer_id": customer_id,
                "prediction": int(p >= threshold),
                "probability": p,
                "risk_level": RiskLevel.of(p).value,
                "model_name": name,
                "model_version": version,
                "scored_at": now,
            }
            out.append(OutRecord(self._topics.predictions, encode(prediction), key, _HEADERS))
            log = {
                "event": "prediction",
                "level": "info",
                "timestamp": now,
                "service": SERVICE,
                "event_id": event_id,
                "input": {k: v for k, v in event.items() if k in log_fields},
                "output": {
                    "prediction": prediction["prediction"],
                    "probability": p,
                    "risk_level": prediction["risk_level"],
                },
                "latency_ms": round(latency_ms, 3),
                "model_name": name,
                "model_version": version,
            }
            out.append(OutRecord(self._topics.logs, encode(log), key, _HEADERS))
        self._metrics.scored.inc(len(valid))
        self._metrics.latency.observe(latency_ms / 1000)
        return out

    def _error_log(self, record: Record, exc: InvalidEvent, now: str) -> OutRecord:
        topic, partition, offset = coordinates(record)
        log = {
            "event": "error",
            "level": "warning",
            "timestamp": now,
            "service": SERVICE,
            "event_id": f"{topic}:{partition}:{offset}",
            "error_type": exc.error_type,
            "error_message": str(exc),
            "source_topic": topic,
            "source_partition": partition,
            "source_offset": offset,
        }
        return OutRecord(self._topics.logs, _ENCODE(log), record.key(), _HEADERS)

    def _refusal_logs(self, now: str) -> list[OutRecord]:
        logs = []
        while self._slot.refusals:
            version, reason = self._slot.refusals.pop(0)
            self._metrics.models_refused.inc()
            log = {
                "event": "error",
                "level": "error",
                "timestamp": now,
                "service": SERVICE,
                "error_type": "model_refused",
                "error_message": reason,
                "model_name": self._model_name,
                "model_version": version,
            }
            logs.append(OutRecord(self._topics.logs, _ENCODE(log), None, _HEADERS))
        return logs


def transactional_id(settings: Settings) -> str:
    instance = settings.scorer.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    return f"{settings.scorer.transactional_id_prefix}-{instance}"


def run_scorer(settings: Settings, stop: threading.Event) -> None:
    """Score until `stop` is set; /health and /metrics served meanwhile."""
    log = structlog.get_logger(SERVICE)
    check_reachable(settings)
    registry = CollectorRegistry()
    metrics = ScorerMetrics(registry)
    slot = ModelSlot(
        ModelRegistry(settings.registry.path, settings.registry.on_version_mismatch),
        settings.registry.model_name,
        poll_s=settings.scorer.model_poll_s,
    )
    listener = ModelEventListener(settings, settings.registry.model_name)
    handler = ScoringHandler(settings, slot, metrics, listener)
    handler.idle()
    processor = BatchProcessor(
        settings,
        name=SERVICE,
        group_id=settings.scorer.group_id,
        topics=[settings.topics.events],
        handler=handler,
        on_error=DeadLetterPolicy(settings.topics.dlq),
        batch_size=settings.scorer.batch_size,
        batch_timeout_s=settings.scorer.batch_timeout_ms / 1000,
        delivery=settings.scorer.delivery,
        transactional_id=transactional_id(settings),
        transaction_timeout_ms=settings.scorer.transaction_timeout_ms,
        registry=registry,
    )

    def status() -> dict[str, Any]:
        current = slot.current
        return {
            "status": "healthy" if current is not None else "degraded",
            "service": SERVICE,
            "model_loaded": current is not None,
            "model_name": settings.registry.model_name,
            "model_version": current.version if current else None,
            "input_paused": processor.paused,
            "partitions": processor.assignment,
            "last_batch_time": processor.last_batch_at,
        }

    health = HealthServer(status, registry, settings.scorer.http_port).start()
    log.info(
        "scorer_started",
        group_id=settings.scorer.group_id,
        delivery=settings.scorer.delivery,
        http_port=health.port,
        model_version=slot.current.version if slot.current else None,
    )
    try:
        processor.run(stop)
    finally:
        health.stop()
        listener.close()
        log.info("scorer_stopped")
