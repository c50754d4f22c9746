"""The scoring consumer: `customer-events` in, `churn-predictions` and `prediction-logs` out.

A thin wiring of core pieces on the consumer scaffold (`core.kafka.service`):
`parse_event` (validation), `BatchScorer` (the scoring path the HTTP API shares),
`ProductionFollower` (hot swap) and `dead_letter`.

After each model load the heap is frozen (`gc.freeze`), as the HTTP API does
(`api/refresh.py`): a 5,000-event batch leaves some 40,000 objects alive until it is
committed, enough to set off a full collection every two or three batches, and each
walked the ~155,000 long-lived objects of scikit-learn, pydantic and the model: about
95 ms, nearly half a batch's time (`bench/handler_micro.py`, docs/benchmarks.md). The
young and full collections are made rarer as well (`core.heap`): the outputs waiting
for their commit were walked by a young or middle collection every few hundred events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.follower import ProductionFollower, Refusal
from core.heap import fewer_full_collections, freeze_heap, rarer_young_collections
from core.kafka.dead_letter import DeadLetterPolicy, dead_letter
from core.kafka.instance import transactional_id as instance_transactional_id
from core.kafka.model_events import follow_production
from core.kafka.processor import BatchHandler, BatchTiming
from core.kafka.service import ConsumerSpec, run_consumer
from core.records import OutRecord, Record, coordinates, event_timestamp
from core.registry import NoProductionModel
from core.schemas import (
    CONTRACT_HEADER,
    CONTRACT_VERSION,
    CustomerEventFields,
    PredictionLogFields,
)
from core.scoring import BatchScorer, LoadedModel
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


class ScoringHandler(BatchHandler):
    """Validates a batch, scores it with `BatchScorer`, and turns the records into Kafka
    records; knows nothing of Kafka delivery."""

    def __init__(
        self, settings: Settings, follower: ProductionFollower[LoadedModel], metrics: ScorerMetrics
    ) -> None:
        self._topics = settings.topics
        self._max_bytes = settings.validation.max_event_bytes
        self._scorer = BatchScorer(SERVICE, settings.logging.pii_fields)
        self._metrics = metrics
        self._refusals: list[Refusal] = []
        self._follower = follower
        follower.on_refused(self._on_refused)
        current = follower.current
        metrics.model_version.labels(follower.name).set(current.version if current else 0)
        rarer_young_collections()
        fewer_full_collections()
        freeze_heap()  # after each load: only a swap's garbage stays, once per version

    def _on_refused(self, refusal: Refusal) -> None:
        """Reported on the logs topic with the next batch (there is no record to attach
        it to before then)."""
        self._refusals.append(refusal)
        self._metrics.models_refused.inc()

    @property
    def model(self) -> LoadedModel | None:
        return self._follower.current

    def ready(self) -> bool:
        return self._follower.current is not None

    def close(self) -> None:
        self._follower.close()

    def status(self) -> dict[str, Any]:
        current = self._follower.current
        return {
            "model_loaded": current is not None,
            "model_name": self._follower.name,
            "model_version": current.version if current else None,
        }

    def idle(self) -> None:
        if self._follower.refresh() and self._follower.current is not None:
            loaded = self._follower.current
            self._metrics.model_version.labels(loaded.name).set(loaded.version)
            freeze_heap()

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        started = time.perf_counter()
        loaded = self._follower.current
        if loaded is None:
            raise NoProductionModel(self._follower.name)
        now = datetime.now(UTC)
        topics, scorer = self._topics, self._scorer
        out = [self._log_record(self._refused(r, now), None) for r in self._drain_refusals()]
        ids: list[str] = []
        events: list[CustomerEventFields] = []
        keys: list[bytes] = []
        stamps: list[int | None] = []
        parse, max_bytes = parse_event, self._max_bytes
        for record in batch:
            try:
                event = parse(record.value(), max_bytes)
            except InvalidEvent as exc:
                source = coordinates(record)
                out.append(dead_letter(record, topics.dlq, exc.error_type, str(exc)))
                log = scorer.invalid_event_log(
                    "{}:{}:{}".format(*source), exc.error_type, str(exc), now=now, source=source
                )
                out.append(self._log_record(log, record.key()))
                self._metrics.dead_lettered.labels(exc.error_type).inc()
                continue
            ids.append(event.get("event_id") or "{}:{}:{}".format(*coordinates(record)))
            events.append(event)
            keys.append(event["customer_id"].encode())
            stamps.append(event_timestamp(record))
        scored = scorer.score(loaded, ids, events, now=now, started=started)
        encode, predictions, logs, headers = _ENCODE, topics.predictions, topics.logs, _HEADERS
        for (prediction, log), key, stamp in zip(scored, keys, stamps, strict=True):
            out.append(OutRecord(predictions, encode(prediction), key, headers, None, stamp))
            out.append(OutRecord(logs, encode(log), key, headers))
        if scored:
            self._metrics.scored.inc(len(scored))
            self._metrics.latency.observe(scored[0].log["latency_ms"] / 1000)
        return out

    def _drain_refusals(self) -> list[Refusal]:
        refusals, self._refusals = self._refusals, []
        return refusals

    def _refused(self, refusal: Refusal, now: datetime) -> PredictionLogFields:
        return self._scorer.refused_model_log(
            refusal.model_name, refusal.version, refusal.reason, now=now
        )

    def _log_record(self, log: PredictionLogFields, key: bytes | None) -> OutRecord:
        return OutRecord(self._topics.logs, _ENCODE(log), key, _HEADERS)


def transactional_id(settings: Settings) -> str:
    return instance_transactional_id(
        settings.scorer.transactional_id_prefix, settings.scorer.instance_id
    )


def spec(settings: Settings) -> ConsumerSpec:
    return ConsumerSpec.from_config(
        SERVICE,
        settings.scorer,
        [settings.topics.events],
        DeadLetterPolicy(settings.topics.dlq),
        delivery=settings.scorer.delivery,
        transactional_id=transactional_id(settings),
        transaction_timeout_ms=settings.scorer.transaction_timeout_ms,
        overlap_commit=settings.scorer.overlap_commit,
    )


def run_scorer(
    settings: Settings,
    stop: threading.Event,
    *,
    on_batch: Callable[[BatchTiming], None] | None = None,
) -> None:
    """Score until `stop` is set; /health and /metrics served meanwhile."""

    def handler(registry: CollectorRegistry) -> ScoringHandler:
        follower = follow_production(settings, LoadedModel.load)
        return ScoringHandler(settings, follower, ScorerMetrics(registry))

    run_consumer(settings, stop, spec(settings), handler, on_batch=on_batch)
