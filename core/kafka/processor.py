"""The consume-process-produce loop every streamscore consumer runs.

Written once so the delivery guarantee lives in one place. A handler turns a batch of
input records into output records; the processor owns everything Kafka. Per batch:

  1. consume up to `batch_size` records (or what arrives within `batch_timeout_s`);
  2. call the handler (on an exception, the error policy's records replace its output);
  3. commit outputs and offsets together with the chosen strategy (`core.kafka.commit`:
     a transaction for exactly-once, flush-then-commit for at-least-once);
  4. if that did not commit, seek back to the batch's first offsets, let the handler
     undo the batch (`batch_aborted`) and redo it.

With `overlap_commit` (exactly-once, handlers without state), step 3's last broker
round trip runs while the next batch is consumed and processed (steps 1-2); that batch
is produced once the commit is decided (`_Overlapped`).

A handler that cannot answer a batch yet raises `Deferred`: the batch is rewound
uncommitted and comes again once the handler is ready (the retrainer trains this way).
A handler can also leave the tail of some topic-partitions of a batch unread
(`BatchHandler.unread`, before step 2): those records are rewound, neither processed nor
committed, and come again (the monitor keeps a join's topics level this way; `held()`
then pauses what it left).

Rebalance callbacks only run inside `consume()`, where no batch is open, so revoked
partitions never carry uncommitted work; the handler hears of them through its typed
`on_assigned`/`on_revoked` hooks. While the handler is not ready (for example no model
in production) the assigned partitions are paused: nothing is consumed and dropped.

A bounded job (`ProcessorOptions.ends`, as `streamscore dlq replay` runs) stops once
every listed partition has been committed up to its end offset. On a transactionally
written topic the last offset is a commit marker no record is delivered for, so the
end is also known reached from a partition-EOF event, counted only when the batch
consumed with it was committed (a rewound batch is read, and reaches EOF, again).
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry

from core.kafka.commit import (
    AtLeastOnceCommit,
    CommitStrategy,
    InFlight,
    TransactionalCommit,
    next_offsets,
)
from core.kafka.config import consumer_config
from core.kafka.exceptions import ProcessorFatal, StopRequested
from core.kafka.processor_metrics import ProcessorMetrics
from core.kafka.producer import CheckedProducer
from core.records import OutRecord, Record, coordinates
from core.settings import Settings
from core.settings_defaults import Delivery

_PRODUCER_TUNING: dict[str, Any] = {
    "queue.buffering.max.messages": 500000,
    # Back-to-back transactions: the coordinator answers CONCURRENT_TRANSACTIONS while it
    # completes the previous commit, and librdkafka's 100 ms default retry backoff then
    # dominated p99 latency (the same fix as KAFKA-5477 on the Java client).
    "retry.backoff.ms": 10,
}
ErrorPolicy = Callable[[Exception, Sequence[Record]], list[OutRecord]]


class Deferred(Exception):
    """Raised by `BatchHandler.process` when it cannot answer the batch yet (say, a
    training was started off the poll thread): nothing is produced or committed, the
    batch is rewound, and it is delivered again once `ready()` is True. Meanwhile the
    input is paused and the loop keeps polling, so the group never sees a stall."""


class Assignment:
    """Partitions just assigned, with what is known about them on demand."""

    def __init__(
        self,
        partitions: list[tuple[str, int]],
        backlogged: Callable[[], list[tuple[str, int]]],
        caught_up: Callable[[], set[tuple[str, int]]] | None = None,
    ):
        self.partitions = partitions
        self._backlogged = backlogged
        self._caught_up = caught_up

    def backlogged(self) -> list[int]:
        """Partitions whose committed position is behind their end: events still to come."""
        return sorted({p for _, p in self._backlogged()})

    def backlogged_topics(self) -> list[tuple[str, int]]:
        """The same as (topic, partition): a consumer of several topics needs to know which."""
        return self._backlogged()

    def caught_up(self, partitions: Iterable[int]) -> set[int]:
        """Of `partitions`, those read to their end in every assigned topic, asked of the
        broker now (call it between batches). A partition it cannot answer for is not:
        a quiet partition may be announced idle only once nothing of it waits unread."""
        if self._caught_up is None:
            return set()
        wanted = set(partitions)
        done = self._caught_up()
        return {
            p
            for p in wanted
            if all((t, q) in done for t, q in self.partitions if q == p)
            and any(q == p for _, q in self.partitions)
        }


class BatchHandler(ABC):
    """What a consumer plugs into the processor: pure processing plus a few hooks."""

    @abstractmethod
    def ready(self) -> bool:
        """False while the handler cannot process (input is paused meanwhile)."""

    @abstractmethod
    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        """The records to produce for `batch`, committed with its offsets."""

    def idle(self) -> None:  # noqa: B027 - optional hook
        """Called between batches: the safe point to swap models or flush state."""

    def on_assigned(self, assignment: Assignment) -> None:  # noqa: B027 - optional hook
        """Partitions were assigned (no batch is open)."""

    def on_revoked(self, partitions: list[tuple[str, int]]) -> None:  # noqa: B027
        """Partitions were revoked (no batch is open; their work is committed)."""

    def batch_committed(self) -> None:  # noqa: B027 - optional hook
        """The last batch's transaction committed: its effect on the state is durable."""

    def batch_aborted(self) -> None:  # noqa: B027 - optional hook
        """The last batch's outputs were discarded and it will be consumed again. A handler
        with state must return it to what the last committed batch left, or each of the
        batch's events counts twice."""

    def held(self) -> set[tuple[str, int]]:
        """Assigned partitions to leave unread for now, e.g. the topic of a join that runs
        ahead of the other; they are paused until the handler lets them go."""
        return set()

    def unread(self, batch: Sequence[Record]) -> Mapping[tuple[str, int], int]:
        """Per (topic, partition), the offset from which to leave `batch` unread for now:
        those records are rewound and consumed again later, never processed or committed
        in this batch. `held()` acts between batches only, and one fetched batch can hold
        a long stretch of one topic-partition (a backlog comes in producer-sized chunks):
        this is the same rule applied inside the batch. Default: process it all."""
        return {}

    def status(self) -> dict[str, Any]:
        """Fields of this handler for `/health`."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the handler holds (listeners, files)."""


@dataclass(frozen=True)
class BatchTiming:
    """Where one batch's time went, for observers such as a benchmark's tracer."""

    records: int
    outputs: int
    consume_s: float
    process_s: float
    commit_s: float
    committed: bool
    overlapped: bool = False
    """Its commit ran while the next batch was consumed and processed."""


@dataclass(frozen=True)
class ProcessorOptions:
    """How one consumer reads and commits; `core.kafka.service.ConsumerSpec` fills it."""

    name: str
    group_id: str
    topics: Sequence[str]
    batch_size: int
    batch_timeout_s: float
    delivery: Delivery = "exactly-once"
    transactional_id: str | None = None
    transaction_timeout_ms: int = 10000
    ends: Mapping[tuple[str, int], int] | None = None
    """A bounded job: stop once each listed (topic, partition) is read up to this end
    offset (exclusive), taken by the caller when the job started. None: run until stop."""
    consumer_overrides: Mapping[str, Any] = field(default_factory=dict)
    """librdkafka options for this consumer only (e.g. `session.timeout.ms`)."""
    overlap_commit: bool = False
    """Exactly-once only, and only for a handler without state: process the next batch
    while the last one's transaction commits (`_Overlapped`)."""


@dataclass
class _Overlapped:
    """A batch whose transaction is committing while the next batch is processed.

    Its outputs and offsets are in the transaction (sent), and only `commit_transaction`
    is outstanding. The next batch is produced only after it is decided, so the
    transactions and their offsets stay in order. If it aborts, both batches are rewound
    to the earlier one's first offsets and consumed again, and the next batch's outputs
    (never produced) are dropped. The handler hears `batch_committed` or `batch_aborted`
    for it after the next batch's `process`: so only a handler without state overlaps.
    """

    records: list[Message]
    inflight: InFlight
    outputs: int
    consume_s: float
    process_s: float
    started: float
    sent: float


class BatchProcessor:
    def __init__(
        self,
        settings: Settings,
        options: ProcessorOptions,
        handler: BatchHandler,
        on_error: ErrorPolicy,
        *,
        registry: CollectorRegistry | None = None,
        on_batch: Callable[[BatchTiming], None] | None = None,
        metrics: ProcessorMetrics | None = None,
    ) -> None:
        """`metrics`: shared with another processor of the same process (labelled by
        name), else made on `registry`."""
        self._name = options.name
        self._topics = list(options.topics)
        self._handler = handler
        self._on_error = on_error
        self._on_batch = on_batch
        self._batch_size = options.batch_size
        self._timeout = options.batch_timeout_s
        self._log = structlog.get_logger("processor").bind(consumer=options.name)
        self._metrics = metrics or ProcessorMetrics.create(registry or CollectorRegistry())
        self._stop = threading.Event()
        self._run_stop = self._stop
        self._paused = False
        self._held: set[tuple[str, int]] = set()
        self._last_lag_check = 0.0
        self._timeout_s = settings.kafka.timeout_s
        self._overlapped: _Overlapped | None = None
        self.last_batch_at: float | None = None
        self.assignment: list[str] = []
        """Partitions this process owns now, as `topic[partition]`."""

        self._ends = dict(options.ends) if options.ends is not None else None
        self._reached: dict[tuple[str, int], int] = {}
        overrides = dict(options.consumer_overrides)
        if self._ends is not None:
            overrides["enable.partition.eof"] = True
        self._eofs: dict[tuple[str, int], int] = {}
        self._consumer = Consumer(consumer_config(settings, options.group_id, **overrides))
        self._commit: CommitStrategy
        if options.delivery == "exactly-once":
            txn_id = options.transactional_id or f"{options.name}-{options.group_id}"
            tuning = {**_PRODUCER_TUNING, "transaction.timeout.ms": options.transaction_timeout_ms}

            def transactional() -> CheckedProducer:
                return CheckedProducer.from_settings(
                    settings, transactional_id=txn_id, stopping=self._stopping, **tuning
                )

            self._commit = self._transactional = TransactionalCommit(
                transactional,
                name=options.name,
                timeout_s=self._timeout_s,
                stopping=self._stopping,
                transactional_id=txn_id,
            )
        else:
            producer = CheckedProducer.from_settings(
                settings, stopping=self._stopping, **_PRODUCER_TUNING
            )
            self._commit = AtLeastOnceCommit(producer, timeout_s=self._timeout_s)
        self._overlap = options.overlap_commit and options.delivery == "exactly-once"

    @property
    def metrics(self) -> ProcessorMetrics:
        return self._metrics

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        self._stop.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Process until `stop` (or `self.stop()`) is set; then close cleanly."""
        stop = stop or self._stop
        self._run_stop = stop
        try:
            self._commit.start()
            self._consumer.subscribe(
                self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            while not self._stopping() and not self._drained():
                self._handler.idle()
                self._sync_pause()
                self._sync_held()
                started = time.perf_counter()
                records = self._consume()
                if not records:
                    self._settle()
                    self._reach(self._eofs)
                    continue
                if not self._handler.ready():
                    self._settle()
                    self._rewind(records)
                    self._sync_pause()
                    continue
                records = self._leave_unread(records)
                if not records:
                    self._settle()
                    continue
                self._process(records, time.perf_counter() - started)
                self._maybe_report_lag()
            self._settle()
        except StopRequested as exc:
            self._log.warning("stopped_while_waiting_on_the_broker", error=str(exc))
        except KafkaException as exc:
            # Whatever librdkafka raises that the commit strategies did not turn into a
            # named error (a fatal init, a fenced producer): one line, not a traceback.
            raise ProcessorFatal(f"{self._name}: Kafka error: {_reason(exc)}") from None
        finally:
            self._close()

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._run_stop.is_set()

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
        self._eofs = {}
        for msg in messages:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                self._eofs[(msg.topic() or "", msg.partition() or 0)] = msg.offset() or 0
            elif err.fatal():
                raise ProcessorFatal(f"consumer failed: {err.str()}")
            else:
                self._log.warning("consume_error", error=err.str())
        return good

    def _process(self, records: list[Message], consume_s: float) -> None:
        started = time.perf_counter()
        try:
            outputs = self._handler.process(records)
        except Deferred:
            self._rewind(records)
            self._sync_pause()
            return
        except Exception as exc:
            outputs = self._on_error(exc, records)
        handled = time.perf_counter()
        if self._overlap:
            earlier = self._overlapped
            if not self._settle():
                self._rewind([*earlier.records, *records] if earlier else records)
                return
            inflight = self._transactional.send(self._consumer, records, outputs)
            self._overlapped = _Overlapped(
                records,
                inflight,
                len(outputs),
                consume_s,
                handled - started,
                started,
                handled,
            )
            return
        committed = self._commit.commit(self._consumer, records, outputs)
        self._done(records, len(outputs), consume_s, started, handled, committed)

    def _settle(self) -> bool:
        """Decide the overlapped batch, if any; False if it aborted (and was rewound)."""
        overlapped, self._overlapped = self._overlapped, None
        if overlapped is None:
            return True
        committed = self._transactional.finish(overlapped.inflight)
        o = overlapped
        self._done(
            o.records, o.outputs, o.consume_s, o.started, o.sent, committed, o.process_s, True
        )
        return committed

    def _done(
        self,
        records: list[Message],
        outputs: int,
        consume_s: float,
        started: float,
        handled: float,
        committed: bool,
        process_s: float | None = None,
        overlapped: bool = False,
    ) -> None:
        done = time.perf_counter()
        if self._on_batch is not None:
            self._on_batch(
                BatchTiming(
                    len(records),
                    outputs,
                    consume_s,
                    handled - started if process_s is None else process_s,
                    done - handled,
                    committed,
                    overlapped,
                )
            )
        m, n = self._metrics, self._name
        if not committed:
            m.aborted.labels(n).inc()
            self._rewind(records)
            self._handler.batch_aborted()
            return
        self._handler.batch_committed()
        if self._ends is not None:  # a pass over every record: only bounded jobs need it
            self._reach({(tp.topic, tp.partition): tp.offset for tp in next_offsets(records)})
            self._reach(self._eofs)
        m.consumed.labels(n).inc(len(records))
        m.produced.labels(n).inc(outputs)
        m.batches.labels(n).inc()
        m.batch_size.labels(n).observe(len(records))
        m.batch_seconds.labels(n).observe(done - started)
        self.last_batch_at = time.time()

    def _reach(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Record how far each partition is durably read (bounded jobs only)."""
        if self._ends is None:
            return
        for tp, offset in offsets.items():
            self._reached[tp] = max(offset, self._reached.get(tp, -1))

    def _drained(self) -> bool:
        """A bounded job is done: every listed partition committed up to its end."""
        if self._ends is None:
            return False
        return all(self._reached.get(tp, -1) >= end for tp, end in self._ends.items())

    def _leave_unread(self, records: list[Message]) -> list[Message]:
        """The batch less what the handler leaves unread, which is rewound (a seek
        also drops what librdkafka had fetched past it)."""
        unread = self._handler.unread(records)
        if not unread:
            return records
        kept: list[Message] = []
        left: list[Message] = []
        for msg in records:  # no `coordinates` per record: a batch has tens of thousands
            first = unread.get((msg.topic() or "", msg.partition() or 0))
            (kept if first is None or (msg.offset() or 0) < first else left).append(msg)
        for topic, partition in {(m.topic() or "", m.partition() or 0) for m in left}:
            self._eofs.pop((topic, partition), None)  # that end is not reached yet
        self._rewind(left)
        return kept

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
            self._held = set()  # resumed with the rest: `_sync_held` holds them again
            self._log.info("input_resumed")
        self._paused = want
        self._metrics.paused.labels(self._name).set(1 if want else 0)

    def _sync_held(self) -> None:
        """Pause what the handler holds back and resume what it lets go."""
        if self._paused:
            return
        want = self._handler.held()
        if want == self._held:
            return
        hold, release = want - self._held, self._held - want
        try:
            if hold:
                self._consumer.pause([TopicPartition(t, p) for t, p in sorted(hold)])
            if release:
                self._consumer.resume([TopicPartition(t, p) for t, p in sorted(release)])
        except KafkaException as exc:
            # A partition revoked meanwhile; the next assignment starts over.
            self._log.info("hold_skipped", error=str(exc))
        self._held = want

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(self._stable_offsets(consumer, partitions))
        if self._paused and partitions:
            consumer.pause(partitions)
        self.assignment = _describe(partitions)
        self._held = set()
        if partitions:
            self._handler.on_assigned(
                Assignment(
                    [(tp.topic, tp.partition) for tp in partitions],
                    lambda: self._backlogged(consumer, partitions),
                    lambda: self._read_to_end(consumer, partitions),
                )
            )
        self._log.info("partitions_assigned", partitions=_describe(partitions))

    def _stable_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """The group's committed offsets, asked before the handler restores its state.

        A transaction that committed a batch's offsets together with its checkpoint may
        still be completing (its owner was SIGKILLed after asking to commit): the broker
        holds a read_committed offset fetch until it is decided, while a checkpoint read
        before then would miss it. Asking first, and resuming from exactly these offsets,
        gives the handler's restore and the consumer's position the same transaction."""
        if not partitions:
            return partitions
        while True:
            try:
                return list(consumer.committed(partitions, timeout=self._timeout_s))
            except KafkaException as exc:
                if self._stopping():
                    return partitions
                self._log.warning("committed_offsets_pending", error=_reason(exc))

    def _backlogged(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[tuple[str, int]]:
        out = []
        try:
            committed = consumer.committed(partitions, timeout=self._timeout_s)
        except KafkaException as exc:
            self._log.warning("committed_offsets_unavailable", error=str(exc))
            return [(tp.topic, tp.partition) for tp in partitions]
        for tp in committed:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=self._timeout_s)
            except KafkaException:
                out.append((tp.topic, tp.partition))
                continue
            if high > max(tp.offset, low):
                out.append((tp.topic, tp.partition))
        return out

    def _read_to_end(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> set[tuple[str, int]]:
        """Topic-partitions whose next offset to consume is their end, by the broker now."""
        out: set[tuple[str, int]] = set()
        try:
            positions = consumer.position(partitions)
            unread = [tp for tp in positions if tp.error is None and tp.offset < 0]
            if unread:  # nothing consumed yet since assigned: it resumes at its commit
                fresh = consumer.committed(unread, timeout=self._timeout_s)
                known = {(tp.topic, tp.partition): tp for tp in fresh}
                positions = [known.get((tp.topic, tp.partition), tp) for tp in positions]
        except KafkaException as exc:
            self._log.info("positions_unavailable", error=str(exc))
            return out
        for tp in positions:
            if tp.error is not None:
                continue
            try:  # a short wait: this runs on the processing loop, between batches
                low, high = consumer.get_watermark_offsets(tp, timeout=min(self._timeout_s, 2.0))
            except KafkaException:
                continue
            if high <= max(tp.offset, low):
                out.add((tp.topic, tp.partition))
        return out

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._settle()  # revoked partitions must carry no undecided work
        self._log.info("partitions_revoked", partitions=_describe(partitions))
        self.assignment = []
        self._handler.on_revoked([(tp.topic, tp.partition) for tp in partitions])
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
        """Never raises: an error here would hide the one that ended the loop."""
        try:
            self._settle()
        except (StopRequested, ProcessorFatal) as exc:
            self._log.warning("overlapped_batch_left_undecided", error=str(exc))
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            self._log.warning("consumer_close_failed", error=str(exc))
        try:
            self._commit.close()
        except (KafkaException, RuntimeError) as exc:
            self._log.warning("producer_close_failed", error=_reason(exc))
        self._log.info("processor_stopped")


def _reason(exc: BaseException) -> str:
    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else str(exc)


def _describe(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]
