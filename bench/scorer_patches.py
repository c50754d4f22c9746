"""Experimental changes to core/ and consumers/, applied only inside a bench process.

Each patch is a proposal, measured with `scoring_bench.py --patch NAME` (the scorer then
runs twice in one benchmark, as it is and patched) before anyone edits the real module.
docs/benchmarks.md says which ones pay for themselves and gives the diff for each.

- `log-fields-once`: `CustomerEvent` ignores extra fields, so its dump holds only its own
  flat fields; which of them are PII is known at start-up. Dump only the kept fields
  (`include=`) instead of running `PiiScrubber` over every event.
- `fast-json`: serialize predictions and logs with `pydantic_core.to_json` (already a
  dependency through pydantic) instead of `json.dumps(...).encode()`.
- `adaptive-batch`: take what the consumer already holds without waiting; only when it
  holds nothing wait up to `batch_timeout_s` for the first record. Under light load a
  batch no longer sits out the whole timeout; under a backlog batches stay full.
- `txn-backoff`: `retry.backoff.ms` 100 -> 10 on the processor's transactional producer.
  A transaction begun right after the previous commit often meets
  CONCURRENT_TRANSACTIONS (the broker is still writing the commit markers); librdkafka
  retries `send_offsets_to_transaction` after `retry.backoff.ms`, 100 ms by default. The
  Java client lowered this backoff to 20 ms for the same reason (KAFKA-5477).
- `batch-timeout-10`: settings only: `scorer.batch_timeout_ms` 50 -> 10.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Message
from pydantic_core import to_json

from core.settings import Settings

Patch = Callable[[Settings], Settings]
PATCHES: dict[str, Patch] = {}
_SCORER_FLAGS: dict[str, bool] = {"fast_json": False, "log_fields_once": False}


def patch(name: str) -> Callable[[Patch], Patch]:
    def register(fn: Patch) -> Patch:
        PATCHES[name] = fn
        return fn

    return register


def parse_patches(text: str) -> list[str]:
    """`a,b` -> ["a", "b"], every name known (an argparse type)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PATCHES]
    if unknown or not names:
        raise ValueError(f"unknown patch {unknown}; known: {', '.join(sorted(PATCHES))}")
    return names


def apply(names: Sequence[str], settings: Settings) -> Settings:
    for name in names:
        settings = PATCHES[name](settings)
    return settings


@patch("log-fields-once")
def _log_fields_once(settings: Settings) -> Settings:
    _SCORER_FLAGS["log_fields_once"] = True
    _install_process()
    return settings


@patch("fast-json")
def _fast_json(settings: Settings) -> Settings:
    _SCORER_FLAGS["fast_json"] = True
    _install_process()
    return settings


@patch("adaptive-batch")
def _adaptive_batch(settings: Settings) -> Settings:
    from core.kafka.processor import BatchProcessor, ProcessorFatal

    def _consume(self: Any) -> list[Message]:
        consumer = self._consumer
        messages = consumer.consume(self._batch_size, 0)
        if not messages:
            first = consumer.poll(self._timeout)
            if first is None:
                return []
            messages = [first, *consumer.consume(self._batch_size - 1, 0)]
        good = []
        for msg in messages:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.fatal():
                raise ProcessorFatal(f"consumer failed: {err.str()}")
            else:
                self._log.warning("consume_error", error=err.str())
        return good

    BatchProcessor._consume = _consume  # type: ignore[method-assign]
    return settings


@patch("txn-backoff")
def _txn_backoff(settings: Settings) -> Settings:
    from core.kafka import processor

    processor._PRODUCER_TUNING["retry.backoff.ms"] = 10
    return settings


@patch("batch-timeout-10")
def _batch_timeout_10(settings: Settings) -> Settings:
    settings.scorer = settings.scorer.model_copy(update={"batch_timeout_ms": 10})
    return settings


def _install_process() -> None:
    """`ScoringHandler.process` as proposed; each change on only when its flag is."""
    from consumers import scorer
    from core.kafka.dead_letter import dead_letter
    from core.kafka.records import OutRecord, Record, coordinates
    from core.schemas import CustomerEvent, RiskLevel
    from core.serving import churn_probabilities
    from core.validation import InvalidEvent, parse_event

    fast_json = _SCORER_FLAGS["fast_json"]
    log_fields_once = _SCORER_FLAGS["log_fields_once"]
    headers = scorer._HEADERS

    def process(self: Any, batch: Sequence[Record]) -> list[OutRecord]:
        started = time.perf_counter()
        loaded = self._slot.current
        if loaded is None:
            raise RuntimeError("process() called with no model loaded")
        now = datetime.now(UTC).isoformat()
        out: list[OutRecord] = self._refusal_logs(now)
        valid: list[tuple[Record, CustomerEvent]] = []
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
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        threshold, name, version = loaded.threshold, loaded.name, loaded.version
        if fast_json:
            encode: Callable[[Any], bytes] = to_json
        else:

            def encode(obj: Any) -> bytes:
                return json.dumps(obj).encode()

        if log_fields_once:
            keep = getattr(self, "_bench_log_fields", None)
            if keep is None:
                pii = {f.lower() for f in self._scrub._fields}
                keep = {
                    f
                    for f in CustomerEvent.model_fields
                    if f != "event_id" and f.lower() not in pii
                }
                self._bench_log_fields = keep

            def log_input(event: CustomerEvent) -> Any:
                return event.model_dump(mode="json", include=keep)
        else:

            def log_input(event: CustomerEvent) -> Any:
                return self._scrub(event.model_dump(mode="json", exclude={"event_id"}))

        predictions_topic, logs_topic = self._topics.predictions, self._topics.logs
        for (record, event), p in zip(valid, probabilities.tolist(), strict=True):
            event_id = event.event_id or "{}:{}:{}".format(*coordinates(record))
            key = event.customer_id.encode()
            label = int(p >= threshold)
            risk = RiskLevel.of(p).value
            prediction = {
                "event_id": event_id,
                "customer_id": event.customer_id,
                "prediction": label,
                "probability": p,
                "risk_level": risk,
                "model_name": name,
                "model_version": version,
                "scored_at": now,
            }
            out.append(OutRecord(predictions_topic, encode(prediction), key, headers))
            log = {
                "event": "prediction",
                "level": "info",
                "timestamp": now,
                "service": scorer.SERVICE,
                "event_id": event_id,
                "input": log_input(event),
                "output": {"prediction": label, "probability": p, "risk_level": risk},
                "latency_ms": latency_ms,
                "model_name": name,
                "model_version": version,
            }
            out.append(OutRecord(logs_topic, encode(log), key, headers))
        self._metrics.scored.inc(len(valid))
        self._metrics.latency.observe(latency_ms / 1000)
        return out

    scorer.ScoringHandler.process = process  # type: ignore[method-assign]
