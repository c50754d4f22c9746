"""How a processed batch becomes durable: the two delivery guarantees.

Exactly-once (`TransactionalCommit`), per batch:
  1. begin a transaction and produce every output record;
  2. add the batch's next offsets to the transaction (`send_offsets_to_transaction` with
     the consumer group metadata, so a fenced zombie cannot commit);
  3. commit the transaction. On an abortable error: abort, and the processor seeks back
     to the batch's first offsets and processes it again. Readers with
     `isolation.level=read_committed` see each batch's outputs exactly once, whatever
     instant the process dies at.

At-least-once (`AtLeastOnceCommit`, brokers without transactions): produce, flush with
every delivery report checked, then commit the offsets synchronously; a crash between the
flush and the commit re-delivers the batch.

Every call that waits on the broker is bounded by `timeout_s` and retried, as librdkafka
documents for retriable errors, only while no stop was asked for: a stop ends any wait
within one timeout (`StopRequested`). The open transaction is then left to the broker to
abort (or to the next instance with the same transactional id to fence), so its batch is
processed again after the restart and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from core.kafka.exceptions import ProcessorFatal, StopRequested
from core.kafka.producer import CheckedProducer
from core.records import OutRecord, Record, coordinates

Stopping = Callable[[], bool]


class CommitStrategy(Protocol):
    def start(self) -> None:
        """Prepare the producer (init the transactional id)."""
        ...

    def commit(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> bool:
        """Make the batch's outputs and offsets durable; False: nothing was committed
        and the batch must be redone."""
        ...


class TransactionalCommit:
    def __init__(self, producer: CheckedProducer, *, timeout_s: float, stopping: Stopping) -> None:
        self._producer = producer
        self._timeout_s = timeout_s
        self._stopping = stopping
        self._log = structlog.get_logger("commit")
        self.aborted = 0

    def start(self) -> None:
        self._call("init_transactions", self._producer.raw.init_transactions, 3)

    def commit(
        self, consumer: Consumer, records: Sequence[Message], outputs: list[OutRecord]
    ) -> bool:
        raw = self._producer.raw
        try:
            self._call("begin_transaction", lambda _t: raw.begin_transaction())
            self._producer.produce_all(outputs, in_transaction=True)
            offsets = next_offsets(records)
            metadata = consumer.consumer_group_metadata()
            self._call(
                "send_offsets_to_transaction",
                lambda t: raw.send_offsets_to_transaction(offsets, metadata, t),
            )
            self._call("commit_transaction", raw.commit_transaction)
            return True
        except KafkaException as exc:
            err = exc.args[0]
            if err.fatal() or not err.txn_requires_abort():
                raise ProcessorFatal(f"transaction failed: {err.str()}") from None
            self._log.warning("transaction_aborted", error=err.str(), records=len(records))
            self._call("abort_transaction", raw.abort_transaction)
            self._producer.forget_errors()
            self.aborted += 1
            return False

    def _call(self, name: str, fn: Callable[[float], None], timeouts: float = 1) -> None:
        """Retry a transactional call on retriable errors while no stop is asked for."""
        while True:
            if self._stopping():
                raise StopRequested(f"stop requested before {name}")
            try:
                fn(self._timeout_s * timeouts)
                return
            except KafkaException as exc:
                err = exc.args[0]
                if not err.retriable():
                    raise
                self._log.info("transaction_call_retry", call=name, error=err.str())


class AtLeastOnceCommit:
    def __init__(self, producer: CheckedProducer, *, timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = timeout_s
        self._log = structlog.get_logger("commit")
        self.aborted = 0

    def start(self) -> None:
        return None

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
    last: dict[tuple[str, int], int] = {}
    for record in records:
        topic, partition, offset = coordinates(record)
        if offset > last.get((topic, partition), -1):
            last[(topic, partition)] = offset
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
