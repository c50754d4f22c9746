"""The consume-process-produce loop every streamscore consumer runs.

Written once so the delivery guarantee lives in one place. A handler turns a batch of
input records into output records; the processor owns everything Kafka:

Exactly-once (default), per batch:
  1. consume up to `batch_size` records (or what arrives within `batch_timeout_s`);
  2. call the handler (on an exception, the error policy's records replace its output);
  3. begin a transaction and produce every output record;
  4. add the batch's next offsets to the transaction (`send_offsets_to_transaction`
     with the consumer group metadata, so a fenced zombie cannot commit);
  5. commit the transaction. On an abortable error: abort, seek back to the batch's first
     offsets and process it again. Readers with `isolation.level=read_committed` see each
     batch's outputs exactly once, whatever instant the process dies at.

At-least-once (brokers without transactions): steps 3-5 become produce, flush, check
every delivery report, then commit the offsets synchronously; a crash between the flush
and the commit re-delivers the batch.

Rebalance callbacks only run inside `consume()`, where no batch is open, so revoked
partitions never carry uncommitted work. While the handler is not ready (for example no
model in production) the assigned partitions are paused: nothing is consumed and dropped.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.kafka.config import consumer_config, producer_config
from core.kafka.exceptions import DeliveryError, KafkaLayerError
from core.records import OutRecord, Record, coordinates
from core.settings import Settings

Delivery = Literal["exactly-once", "at-least-once"]
_PRODUCER_TUNING: dict[str, Any] = {
    "queue.buffering.max.messages": 500000,
    # Back-to-back transactions: the coordinator answers CONCURRENT_TRANSACTIONS while it
    # completes the previous commit, and librdkafka's 100 ms default retry backoff then
    # dominated p99 latency (the same fix as KAFKA-5477 on the Java client).
    "retry.backoff.ms": 10,
}
ErrorPolicy = Callable[[Exception, Sequence[Record]], list[OutRecord]]


class BatchHandler(Protocol):
    def ready(self) -> bool:
        """False while the handler cannot process (input is paused meanwhile)."""
        ...

    def process(self, batch: Sequence[Record]) -> list[OutRecord]: ...

    def idle(self) -> None:
        """Called between batches: the safe point to swap models or flush state."""
        ...


class BacklogAware(Protocol):
    """Optionally implemented by handlers that care which partitions have a backlog."""

    def partitions_with_backlog(self, partitions: list[int]) -> None: ...


class _StoppedWhileRetrying(Exception):
    """A stop was requested while a transactional call was being retried."""


class ProcessorFatal(KafkaLayerError):
    hint = "the process must restart; committed work is safe and uncommitted work is redone"


@dataclass
class ProcessorMetrics:
    consumed: Counter
    produced: Counter
    batches: Counter
    aborted: Counter
    batch_size: Histogram
    batch_seconds: Histogram
    lag: Gauge
    paused: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, consumer_name: str) -> ProcessorMetrics:
        labels = ["consumer"]
        m = cls(
            consumed=Counter(
                "streamscore_records_consumed", "Input records consumed", labels, registry=registry
            ),
            produced=Counter(
                "streamscore_records_produced", "Output records produced", labels, registry=registry
            ),
            batches=Counter("streamscore_batches", "Batches committed", labels, registry=registry),
            aborted=Counter(
                "streamscore_transactions_aborted",
                "Batches aborted and re-processed",
                labels,
                registry=registry,
            ),
            batch_size=Histogram(
                "streamscore_batch_size",
                "Records per batch",
                labels,
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
                registry=registry,
            ),
            batch_seconds=Histogram(
                "streamscore_batch_seconds",
                "Time from a batch's consumption to its commit",
                labels,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=registry,
            ),
            lag=Gauge(
                "streamscore_consumer_lag",
                "Records between the committed position and the partition end",
                ["consumer", "topic", "partition"],
                registry=registry,
            ),
            paused=Gauge(
                "streamscore_input_paused", "1 while input is paused", labels, registry=registry
            ),
        )
        return m


class BatchProcessor:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        group_id: str,
        topics: Sequence[str],
        handler: BatchHandler,
        on_error: ErrorPolicy,
        batch_size: int,
        batch_timeout_s: float,
        delivery: Delivery = "exactly-once",
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 10000,
        metrics: ProcessorMetrics | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._name = name
        self._topics = list(topics)
        self._handler = handler
        self._on_error = on_error
        self._batch_size = batch_size
        self._timeout = batch_timeout_s
        self._delivery = delivery
        self._log = structlog.get_logger("processor").bind(consumer=name)
        self._metrics = metrics or ProcessorMetrics.create(registry or CollectorRegistry(), name)
        self._stop = threading.Event()
        self._run_stop = self._stop
        self._paused = False
        self._delivery_errors: list[KafkaError] = []
        self._last_lag_check = 0.0
        self.last_batch_at: float | None = None
        self.assignment: list[str] = []
        """Partitions this process owns now, as `topic[partition]`."""

        self._consumer = Consumer(consumer_config(settings, group_id))
        if delivery == "exactly-once":
            txn_id = transactional_id or f"{name}-{group_id}"
            self._producer = Producer(
                producer_config(
                    settings,
                    transactional_id=txn_id,
                    **_PRODUCER_TUNING,
                    **{"transaction.timeout.ms": transaction_timeout_ms},
                )
            )
        else:
            self._producer = Producer(producer_config(settings, **_PRODUCER_TUNING))
        self._timeout_s = settings.kafka.timeout_s

    @property
    def metrics(self) -> ProcessorMetrics:
        return self._metrics

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Process until `stop` (or `self.stop()`) is set; then close cleanly.

        A stop that arrives while a transactional call keeps failing (the broker is
        away) ends the wait: the open transaction is left to the broker to abort, and
        its batch is processed again after the restart, so nothing is lost.
        """
        stop = stop or self._stop
        self._run_stop = stop
        try:
            if self._delivery == "exactly-once":
                self._call(self._producer.init_transactions, self._timeout_s * 3)
            self._consumer.subscribe(
                self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            while not (stop.is_set() or self._stop.is_set()):
                self._handler.idle()
                self._sync_pause()
                records = self._consume()
                if not records:
                    continue
                if not self._handler.ready():
                    self._rewind(records)
                    self._sync_pause()
                    continue
                self._process(records)
                self._maybe_report_lag()
        except _StoppedWhileRetrying as exc:
            self._log.warning("stopped_during_transaction", error=str(exc))
        finally:
            self._close()

    def _consume(self) -> list[Message]:
        """Whatever is already fetched, up to `batch_size`; wait only when nothing is.

        Waiting for a full batch would hold every event for the batch timeout under
        light load; under a backlog, batches still fill to `batch_size`.
        """
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

    def _process(self, records: list[Message]) -> None:
        started = time.perf_counter()
        try:
            outputs = self._handler.process(records)
        except Exception as exc:
            outputs = self._on_error(exc, records)
        if self._delivery == "exactly-once":
            committed = self._commit_transaction(records, outputs)
        else:
            committed = self._commit_at_least_once(records, outputs)
        if not committed:
            return
        m, n = self._metrics, self._name
        m.consumed.labels(n).inc(len(records))
        m.produced.labels(n).inc(len(outputs))
        m.batches.labels(n).inc()
        m.batch_size.labels(n).observe(len(records))
        m.batch_seconds.labels(n).observe(time.perf_counter() - started)
        self.last_batch_at = time.time()

    def _commit_transaction(self, records: list[Message], outputs: list[OutRecord]) -> bool:
        producer = self._producer
        try:
            producer.begin_transaction()
            self._produce_all(outputs)
            producer.send_offsets_to_transaction(
                _next_offsets(records),
                self._consumer.consumer_group_metadata(),
                self._timeout_s,
            )
            self._call(producer.commit_transaction, self._timeout_s)
            return True
        except KafkaException as exc:
            err = exc.args[0]
            if not err.txn_requires_abort():
                raise ProcessorFatal(f"transaction failed: {err.str()}") from None
            self._log.warning("transaction_aborted", error=err.str(), records=len(records))
            self._call(producer.abort_transaction, self._timeout_s)
            self._metrics.aborted.labels(self._name).inc()
            self._rewind(records)
            return False

    def _commit_at_least_once(self, records: list[Message], outputs: list[OutRecord]) -> bool:
        self._delivery_errors.clear()
        self._produce_all(outputs, on_delivery=self._on_delivery)
        remaining = self._producer.flush(self._timeout_s * 3)
        if remaining or self._delivery_errors:
            detail = self._delivery_errors[0].str() if self._delivery_errors else "timed out"
            raise DeliveryError(f"{remaining or len(self._delivery_errors)} outputs lost: {detail}")
        try:
            self._consumer.commit(offsets=_next_offsets(records), asynchronous=False)
        except KafkaException as exc:
            # Outputs are delivered; the batch is redelivered after a rebalance (at least once).
            self._log.warning("commit_failed", error=str(exc.args[0]))
            return False
        return True

    def _produce_all(
        self,
        outputs: list[OutRecord],
        on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
    ) -> None:
        produce, poll = self._producer.produce, self._producer.poll
        for out in outputs:
            while True:
                try:
                    produce(
                        out.topic,
                        value=out.value,
                        key=out.key,
                        headers=out.headers,
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    poll(0.05)
        poll(0)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(err)

    def _call(self, fn: Callable[[float], None], timeout: float) -> None:
        """Retry a transactional call on retriable errors, as librdkafka documents."""
        while True:
            try:
                fn(timeout)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if err.retriable():
                    if self._stopping():
                        raise _StoppedWhileRetrying(err.str()) from None
                    self._log.info("transaction_call_retry", error=err.str())
                    continue
                raise

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._run_stop.is_set()

    def _rewind(self, records: list[Message]) -> None:
        """Seek each partition back to the batch's first offset so nothing is skipped."""
        first: dict[tuple[str, int], int] = {}
        for msg in records:
            topic, partition, offset = coordinates(msg)
            key = (topic, partition)
            if key not in first or offset < first[key]:
                first[key] = offset
        for (topic, partition), offset in first.items():
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                # Revoked meanwhile: its new owner starts from the committed offset.
                self._log.info("rewind_skipped", topic=topic, partition=partition, error=str(exc))

    def _sync_pause(self) -> None:
        want = not self._handler.ready()
        if want == self._paused:
            return
        assignment = self._consumer.assignment()
        if want:
            if assignment:
                self._consumer.pause(assignment)
            self._log.warning("input_paused", reason="handler not ready")
        else:
            if assignment:
                self._consumer.resume(assignment)
            self._log.info("input_resumed")
        self._paused = want
        self._metrics.paused.labels(self._name).set(1 if want else 0)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(partitions)
        if self._paused and partitions:
            consumer.pause(partitions)
        self.assignment = _describe(partitions)
        notify = getattr(self._handler, "partitions_with_backlog", None)
        if notify is not None and partitions:
            notify(self._backlogged(consumer, partitions))
        self._log.info("partitions_assigned", partitions=_describe(partitions))

    def _backlogged(self, consumer: Consumer, partitions: list[TopicPartition]) -> list[int]:
        """Partitions whose committed position is behind their end: events still to come."""
        out = []
        try:
            committed = consumer.committed(partitions, timeout=self._timeout_s)
        except KafkaException as exc:
            self._log.warning("committed_offsets_unavailable", error=str(exc))
            return [tp.partition for tp in partitions]
        for tp in committed:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=self._timeout_s)
            except KafkaException:
                out.append(tp.partition)
                continue
            if high > max(tp.offset, low):
                out.append(tp.partition)
        return out

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._log.info("partitions_revoked", partitions=_describe(partitions))
        self.assignment = []
        for tp in partitions:
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(self._name, tp.topic, str(tp.partition))

    def _maybe_report_lag(self, every_s: float = 5.0) -> None:
        now = time.monotonic()
        if now - self._last_lag_check < every_s:
            return
        self._last_lag_check = now
        assignment = self._consumer.assignment()
        if not assignment:
            return
        for tp in self._consumer.position(assignment):
            try:
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if tp.offset >= 0 and high >= 0:
                self._metrics.lag.labels(self._name, tp.topic, str(tp.partition)).set(
                    max(high - tp.offset, 0)
                )

    def _close(self) -> None:
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            self._log.warning("consumer_close_failed", error=str(exc))
        self._producer.flush(self._timeout_s)
        self._log.info("processor_stopped")


def _next_offsets(records: Sequence[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for msg in records:
        topic, partition, offset = coordinates(msg)
        last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


def _describe(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]
