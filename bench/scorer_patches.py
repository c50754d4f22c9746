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
- `fast-features`: the Pipeline's ColumnTransformer costs ~3 ms per call whatever the
  batch size (pandas column selection, validation, joblib dispatch). For the project's
  own layout (StandardScaler on the numeric features, OneHotEncoder on the categorical
  one) build the estimator's input array straight from the events and call the final
  estimator; verified against the whole Pipeline on a probe batch when first used, and
  any other model keeps the Pipeline path.
- `position-offsets`: the offsets sent to the transaction come from one
  `consumer.position(assignment)` call instead of a Python pass over every record of the
  batch (`_next_offsets`); after `consume` the position is the last returned offset + 1.
- `batch-size-5000`: settings only: `scorer.batch_size` 2000 -> 5000, so the per-batch
  costs (two transactional round trips, the model's fixed cost) spread over more events
  when there is a backlog; with `adaptive-batch` a light load still gets small batches.
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


def field(event: Any, name: str) -> Any:
    """A validated event's field, whether validation gave a model or a plain dict.

    (core is moving from `CustomerEvent` objects to `CustomerEventFields` dicts.)
    """
    return event.get(name) if isinstance(event, dict) else getattr(event, name)


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


@patch("fast-features")
def _fast_features(settings: Settings) -> Settings:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from consumers import scorer
    from core import serving
    from core.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    pipeline_path = serving.churn_probabilities
    compiled: dict[int, Any] = {}

    def compile_model(model: Any) -> Any:
        if not (isinstance(model, Pipeline) and len(model.steps) == 2):
            return None
        features, estimator = model.steps[0][1], model.steps[1][1]
        if not isinstance(features, ColumnTransformer):
            return None
        parts = {name: (t, cols) for name, t, cols in features.transformers_}
        numeric, categorical = parts.get("numeric"), parts.get("categorical")
        if (
            set(parts) - {"remainder"} != {"numeric", "categorical"}
            or parts.get("remainder", ("drop",))[0] != "drop"
            or numeric is None
            or categorical is None
            or not isinstance(numeric[0], StandardScaler)
            or not isinstance(categorical[0], OneHotEncoder)
            or list(numeric[1]) != list(NUMERIC_FEATURES)
            or list(categorical[1]) != list(CATEGORICAL_FEATURES)
            or categorical[0].drop_idx_ is not None
        ):
            return None
        scaler, encoder = numeric[0], categorical[0]
        mean = scaler.mean_ if scaler.with_mean else 0.0
        scale = scaler.scale_ if scaler.with_std else 1.0
        categories = np.asarray(encoder.categories_[0], dtype=object)
        classes = list(getattr(model, "classes_", [0, 1]))
        churn = classes.index(1)

        def probabilities(events: Any) -> Any:
            n = len(events)
            x = np.empty((n, len(NUMERIC_FEATURES) + len(categories)))
            for j, name in enumerate(NUMERIC_FEATURES):
                x[:, j] = np.fromiter((field(e, name) for e in events), np.float64, n)
            x[:, : len(NUMERIC_FEATURES)] -= mean
            x[:, : len(NUMERIC_FEATURES)] /= scale
            values = np.array([str(field(e, "contract_type")) for e in events], dtype=object)
            x[:, len(NUMERIC_FEATURES) :] = values[:, None] == categories[None, :]
            return np.asarray(estimator.predict_proba(x)[:, churn], dtype=np.float64)

        return probabilities

    def churn_probabilities(loaded: Any, events: Any) -> Any:
        key = id(loaded.model)
        if key not in compiled:
            fast = compile_model(loaded.model)
            if fast is not None:
                probe = list(events)
                if not np.allclose(fast(probe), pipeline_path(loaded, probe), rtol=0, atol=1e-9):
                    fast = None
            compiled[key] = fast
        fast = compiled[key]
        return fast(events) if fast is not None else pipeline_path(loaded, events)

    serving.churn_probabilities = churn_probabilities
    scorer.churn_probabilities = churn_probabilities  # type: ignore[attr-defined]
    return settings


@patch("position-offsets")
def _position_offsets(settings: Settings) -> Settings:
    from core.kafka import processor

    def _commit_transaction(self: Any, records: list[Message], outputs: Any) -> bool:
        original = processor._next_offsets

        def next_offsets(_records: Any) -> Any:
            consumer = self._consumer
            return [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]

        processor._next_offsets = next_offsets
        try:
            return bool(commit(self, records, outputs))
        finally:
            processor._next_offsets = original

    commit = processor.BatchProcessor._commit_transaction
    processor.BatchProcessor._commit_transaction = _commit_transaction  # type: ignore[method-assign]
    return settings


@patch("batch-size-5000")
def _batch_size_5000(settings: Settings) -> Settings:
    settings.scorer = settings.scorer.model_copy(update={"batch_size": 5000})
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
        valid: list[tuple[Record, Any]] = []
        for record in batch:
            try:
                valid.append((record, parse_event(record.value(), self._max_bytes)))
            except InvalidEvent as exc:
                out.append(dead_letter(record, self._topics.dlq, exc.error_type, str(exc)))
                out.append(self._error_log(record, exc, now))
                self._metrics.dead_lettered.labels(exc.error_type).inc()
        if not valid:
            return out
        probabilities = scorer.churn_probabilities(loaded, [event for _, event in valid])
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        threshold, name, version = loaded.threshold, loaded.name, loaded.version
        if fast_json:
            encode: Callable[[Any], bytes] = to_json
        else:

            def encode(obj: Any) -> bytes:
                return json.dumps(obj, default=str).encode()

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

            def log_input(event: Any) -> Any:
                if isinstance(event, dict):
                    return {k: v for k, v in event.items() if k in keep}
                return event.model_dump(mode="json", include=keep)
        else:

            def log_input(event: Any) -> Any:
                if isinstance(event, dict):
                    return self._scrub({k: v for k, v in event.items() if k != "event_id"})
                return self._scrub(event.model_dump(mode="json", exclude={"event_id"}))

        predictions_topic, logs_topic = self._topics.predictions, self._topics.logs
        for (record, event), p in zip(valid, probabilities.tolist(), strict=True):
            event_id = field(event, "event_id") or "{}:{}:{}".format(*coordinates(record))
            customer_id = field(event, "customer_id")
            key = customer_id.encode()
            label = int(p >= threshold)
            risk = RiskLevel.of(p).value
            prediction = {
                "event_id": event_id,
                "customer_id": customer_id,
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
