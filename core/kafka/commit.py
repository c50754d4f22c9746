"""How a processed batch becomes durable: the two delivery guarantees.

Exactly-once (`TransactionalCommit`), per batch:
  1. begin a transaction and produce every output record;
  2. add the batch's next offsets to the transaction (`send_offsets_to_transaction` with
     the consumer group metadata, so a fenced zombie cannot commit);
  3. commit the transaction. On an abortable error: abort, and the processor seeks back
     to the batch's first offsets and processes it again. Readers with
     `isolation.level=read_committed` see each batch's outputs exactly once, whatever
     instant the process dies at.

Step 3 can run while the caller does something else (`send`, then `finish`): the
processor processes the next batch meanwhile (`overlap_commit`), and produces it only
once this commit is decided, so transactions and offsets stay in batch order.

At-least-once (`AtLeastOnceCommit`, brokers without transactions): produce, flush with
every delivery report checked, then commit the offsets synchronously; a crash between the
flush and the commit re-delivers the batch.

Every transactional call runs on a helper thread (`core.kafka.blocking_calls`) and is
retried, as librdkafka documents for retriable errors, only while no stop was asked for:
a stop ends any wait within `STOP_GRACE_S` (`StopRequested`), even a call librdkafka
never returns from. The open transaction is then left to the broker to
abort (or to the next instance with the same transactional id to fence), so its batch is
processed again after the restart and nothing is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from core.kafka.blocking_calls import CallThread, PendingCall, Wedged
from core.kafka.exceptions import ProcessorFatal, StopRequested, TransactionalIdInUse
from core.kafka.producer import CheckedProducer
from core.records import OutRecord, Record, coordinates

Stopping = Callable[[], bool]
MAX_REPLACEMENTS = 3
"""Transactional producers replaced in a row (fatal errors, wedged calls) before the
process must restart."""
FENCED_AGAIN_S = 60.0
"""Fenced again this soon after taking the transactional id back: another live process
uses the same id (two instances with one `instance_id`), and taking it back would only
fence that one in turn, for ever."""
_FENCING = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)


class CommitStrategy(Protocol):
    def start(self) -> None:
        """Prepare the producer (init the transactional id)."""
        ...

    def close(self) -> None:
        """Release the producer at shutdown."""
        ...

    def commit(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> bool:
        """Make the batch's outputs and offsets durable; False: nothing was committed
        and the batch must be redone."""
        ...


@dataclass
class InFlight:
    """A batch's transaction between `TransactionalCommit.send` and `finish`."""

    consumer: Consumer
    records: int
    offsets: list[TopicPartition]
    pending: PendingCall | None = None
    result: bool | None = None
    """Decided already (committed, or aborted) when not None."""


class TransactionalCommit:
    """One batch, one transaction. librdkafka's error classes decide what follows: a
    retriable error repeats the same call (documented for a timed-out commit or
    send_offsets), an abortable one aborts and the batch is redone; a fatal one, or a
    call that never returns (`Wedged`), gets a new producer (`_recover`); anything else
    means restart."""

    def __init__(
        self,
        make_producer: Callable[[], CheckedProducer],
        *,
        name: str,
        timeout_s: float,
        stopping: Stopping,
        transactional_id: str = "",
    ) -> None:
        self._make_producer = make_producer
        self._transactional_id = transactional_id
        self._name = name
        self._timeout_s = timeout_s
        self._stopping = stopping
        self._log = structlog.get_logger("commit")
        self._producer = make_producer()
        self._calls = CallThread(f"{name}-producer-calls", stopping)
        self._replacements = 0
        self._fenced_at: float | None = None

    def start(self) -> None:
        try:
            self._init()
        except Wedged as exc:
            raise ProcessorFatal(str(exc)) from None

    def commit(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> bool:
        return self.finish(self.send(consumer, records, outputs))

    def send(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> InFlight:
        """Steps 1 and 2, and step 3 started: `commit_transaction` runs on the call
        thread while the caller goes on (say, processing the next batch), until
        `finish`. Nothing else may use the producer before then."""
        producer, raw, t = self._producer, self._producer.raw, self._timeout_s
        offsets = next_offsets(records)
        inflight = InFlight(consumer, len(records), offsets)

        def start() -> bool | None:
            self._call(raw.begin_transaction, budget=t)
            producer.produce_all(outputs, in_transaction=True)
            group = consumer.consumer_group_metadata()
            self._call(raw.send_offsets_to_transaction, offsets, group, t, budget=t)
            inflight.pending = self._calls.submit(raw.commit_transaction, t)
            return None

        inflight.result = self._guarded(inflight, start)
        return inflight

    def finish(self, inflight: InFlight) -> bool:
        """Wait for the transaction `send` left committing; False: nothing of the batch
        was committed and it must be redone."""
        if inflight.result is not None:
            return inflight.result
        pending, raw, t = inflight.pending, self._producer.raw, self._timeout_s
        assert pending is not None

        def wait() -> bool:
            try:
                self._calls.wait(pending, budget=t)
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable():
                    raise
                if self._stopping():
                    raise StopRequested(err.str()) from None
                self._log.info("transaction_call_retry", error=err.str())
                self._call(raw.commit_transaction, t, budget=t)
            self._replacements = 0
            return True

        result = self._guarded(inflight, wait)
        inflight.result = bool(result)
        return inflight.result

    def _guarded(self, inflight: InFlight, step: Callable[[], bool | None]) -> bool | None:
        """`step` under librdkafka's error classes: abortable aborts (False), fatal or
        wedged gets a new producer, anything else means restart."""
        consumer, offsets, raw, t = (
            inflight.consumer,
            inflight.offsets,
            self._producer.raw,
            self._timeout_s,
        )
        try:
            try:
                return step()
            except KafkaException as exc:
                err = exc.args[0]
                if not err.txn_requires_abort():
                    if err.fatal():
                        self._check_fencing(err)
                        return self._recover(consumer, offsets, f"fatal: {err.str()}")
                    raise ProcessorFatal(f"transaction failed: {err.str()}") from None
                self._log.warning("transaction_aborted", error=err.str(), records=inflight.records)
                self._call(raw.abort_transaction, t, budget=t)
                self._producer.forget_errors()
                return False
        except Wedged as exc:
            return self._recover(consumer, offsets, str(exc))
        except KafkaException as exc:  # the abort itself failed
            err = exc.args[0]
            if err.fatal():
                self._check_fencing(err)
                return self._recover(consumer, offsets, f"fatal: {err.str()}")
            raise ProcessorFatal(f"transaction abort failed: {err.str()}") from None

    def _check_fencing(self, err: KafkaError) -> None:
        """A fence is expected once after a long outage (the broker aborted the open
        transaction and bumped the epoch); twice in a short while means another running
        process shares the transactional id, and the two would fence each other for ever."""
        fenced = err.code() in _FENCING or "fenced" in err.str().lower()
        if not fenced:
            return
        now = time.monotonic()
        if self._fenced_at is not None and now - self._fenced_at < FENCED_AGAIN_S:
            raise TransactionalIdInUse(
                f"transactional id {self._transactional_id!r} is used by another "
                f"running process (fenced twice within {FENCED_AGAIN_S:g} s)"
            )
        self._fenced_at = now

    def _recover(self, consumer: Consumer, offsets: list[TopicPartition], why: str) -> bool:
        """A new producer with the same transactional id, as a restart would make: its
        `init_transactions` fences the old one and completes or aborts its transaction.

        After an outage longer than the transaction timeout the broker aborts the open
        transaction and bumps the producer's epoch, so the client's retried call fails
        fatally (`_FENCED`); a wedged call may also have gone through. So the group's
        committed offsets decide: equal to the batch's next offsets, the batch committed;
        otherwise it is redone. More than `MAX_REPLACEMENTS` in a row means restart.
        """
        self._replacements += 1
        if self._replacements > MAX_REPLACEMENTS:
            raise ProcessorFatal(f"{self._replacements} producers replaced in a row: {why}")
        self._log.error("transactional_producer_replaced", reason=why)
        self._calls = CallThread(f"{self._name}-producer-calls", self._stopping)
        self._producer = self._make_producer()
        self._init()
        t = self._timeout_s
        committed = self._calls.call(consumer.committed, offsets, t, budget=t)
        done = {(tp.topic, tp.partition): tp.offset for tp in committed}
        return all(done.get((tp.topic, tp.partition)) == tp.offset for tp in offsets)

    def close(self) -> None:
        """Nothing to flush: a commit flushed its records, and those of a transaction left
        open by a stop are never read."""
        self._calls.close()

    def _init(self) -> None:
        t = self._timeout_s * 3
        self._call(self._producer.raw.init_transactions, t, budget=t)

    def _call(self, fn: Callable[..., None], *args: Any, budget: float) -> None:
        """Retry on retriable errors, as librdkafka documents, while no stop is asked for."""
        while True:
            try:
                self._calls.call(fn, *args, budget=budget)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable():
                    raise
                if self._stopping():
                    raise StopRequested(err.str()) from None
                self._log.info("transaction_call_retry", error=err.str())


class AtLeastOnceCommit:
    def __init__(self, producer: CheckedProducer, *, timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = timeout_s
        self._log = structlog.get_logger("commit")
        self.aborted = 0

    def start(self) -> None:
        return None

    def close(self) -> None:
        self._producer.raw.flush(self._timeout_s)

    def commit(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> bool:
        self._producer.produce_all(outputs)
        self._producer.flush(self._timeout_s * 3)
        try:
            consumer.commit(offsets=next_offsets(records), asynchronous=False)
        except KafkaException as exc:
            # Outputs are delivered; the batch is redelivered after a rebalance (at least once).
            self._log.warning("commit_failed", error=str(exc.args[0]))
            return False
        return True


def next_offsets(records: Sequence[Record]) -> list[TopicPartition]:
    """Per partition, the offset after the batch's last record: what a commit records."""
    last: dict[tuple[str | None, int | None], int] = {}
    for record in records:  # `coordinates` inlined: a batch has tens of thousands
        key, offset = (record.topic(), record.partition()), record.offset()
        if offset is None:
            coordinates(record)  # raises the error that says what is missing
        elif offset > last.get(key, -1):
            last[key] = offset
    out = []
    for (topic, partition), offset in last.items():
        if topic is None or partition is None:
            raise ValueError(f"a record of {topic}[{partition}] is not a consumed record")
        out.append(TopicPartition(topic, partition, offset + 1))
    return out
