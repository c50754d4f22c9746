"""Prediction logs to `prediction-logs`, without ever making a response wait for Kafka.

Records are queued in the producer's local buffer (`produce(block=False)`) and delivered
in the background; a thread serves the delivery reports (`serve`). With the broker down
the buffer fills up to `api.log_queue_max` and then new logs are dropped: the API keeps
answering, and `unsent` counts every log that was dropped or whose delivery failed.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import msgspec
import structlog

from core.kafka.discovery import resolve_bootstrap
from core.kafka.exceptions import BrokerNotFound, DeliveryError
from core.kafka.producer import CheckedProducer
from core.records import OutRecord
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, PredictionLogFields
from core.settings import Settings

_ENCODE = msgspec.json.Encoder().encode
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class LogPublisher:
    def __init__(self, producer: CheckedProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._dropped = 0
        self._lock = threading.Lock()
        self._log = structlog.get_logger("api.logs")

    @classmethod
    def from_settings(cls, settings: Settings) -> LogPublisher | None:
        """A publisher when a broker is configured and `api.publish_logs` is on, else None:
        the API needs no Kafka at all."""
        if not settings.api.publish_logs:
            return None
        try:
            resolve_bootstrap(settings)
        except BrokerNotFound:
            return None
        overrides: dict[str, Any] = {"queue.buffering.max.messages": settings.api.log_queue_max}
        producer = CheckedProducer.from_settings(settings, **overrides)
        return cls(producer, settings.topics.logs)

    @property
    def unsent(self) -> int:
        """Logs dropped on a full buffer plus logs whose delivery failed."""
        return self._dropped + self._producer.failed

    def publish(self, log: PredictionLogFields, key: bytes | None) -> None:
        """Queue one log record; never blocks and never raises."""
        with contextlib.suppress(DeliveryError):
            self._producer.check()  # counted in `failed` already; this record is unaffected
        try:
            self._producer.produce(OutRecord(self._topic, _ENCODE(log), key, _HEADERS), block=False)
        except DeliveryError:
            with self._lock:
                self._dropped += 1

    def serve(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports (call from a background thread)."""
        self._producer.poll(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, for at most `timeout_s`; what is left is reported."""
        try:
            self._producer.flush(timeout_s)
        except DeliveryError as exc:
            self._log.warning("prediction_logs_unsent", error=exc.one_line(), unsent=self.unsent)
