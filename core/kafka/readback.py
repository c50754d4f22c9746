"""Read a topic's recent records back, once, without joining or committing for a group.

The retrainer needs "the events (and outcomes) of the last day" as a finite list, not
a subscription: partitions are assigned directly, no offsets are ever committed or
stored, and reading stops at the end offsets taken at the start, so records produced
while reading are left for the next read-back instead of making it chase the head.

How confluent-kafka (librdkafka >= 1.7.1) answers, which this relies on:

- `get_watermark_offsets(tp, cached=False)` asks the leader; under
  `isolation.level = read_committed` (our consumer default) the high mark is the
  last stable offset (LSO), so an open transaction's records are beyond the end and
  never waited for.
- `offsets_for_times` gives, per partition, the earliest offset whose record timestamp
  is at or after the time asked, or -1 (`OFFSET_END`) when no record is that new; -1
  here means "nothing to read", not "read from the end onwards".
- Transaction markers take offsets but are never delivered, so the last record seen
  can sit below `end - 1`; a partition is done when the consumer's position reaches
  its end (or at partition EOF), not when a record with offset `end - 1` arrives.
- `last_n` counts offsets, so on a transactionally written topic the markers among the
  last `n` offsets make slightly fewer than `n` records.

- `committed(partitions)` answers for the consumer's own `group.id` even when the
  consumer never joins the group (`assign`, not `subscribe`): a read-back from a
  group's position runs under that group's id and never commits for it.

Time is the Kafka record timestamp (producer create time by default), not the event's
own `event_time`: the broker can only index the former.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from core.kafka.config import consumer_config
from core.kafka.exceptions import KafkaLayerError
from core.settings import Settings

Progress = Callable[[int, int], None]
"""Called as `progress(records_read, records_expected)` after every consumed batch."""


class ReadbackError(KafkaLayerError):
    """A topic could not be read back: missing, unreachable or too slow."""

    hint = "check that the topic exists and the broker answers; then retry the read-back"


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """Offsets of one partition that a read-back covers: `start` inclusive, `end` not."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@dataclass(frozen=True)
class Readback:
    records: list[Message]
    """Every record read, per partition in offset order (partitions interleaved)."""
    ranges: tuple[PartitionRange, ...]
    seconds: float


def read_back(
    settings: Settings,
    topic: str,
    *,
    since: datetime | None = None,
    last_n: int | None = None,
    group: str | None = None,
    progress: Progress | None = None,
    timeout_s: float = 120.0,
    batch_size: int = 10_000,
) -> Readback:
    """Records of `topic` from `since` (record timestamp), the last `last_n` offsets
    per partition and/or `group`'s committed offsets (several: whichever starts latest),
    up to the end offsets at the start; none: the whole topic. Raises `ReadbackError`
    when `timeout_s` passes first."""
    if last_n is not None and last_n < 0:
        raise ValueError("last_n must be >= 0")
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    started = time.monotonic()
    consumer = _reader(settings, group)
    try:
        ranges = _ranges(consumer, settings, topic, since, last_n, group is not None)
        records = _read(consumer, ranges, progress, started + timeout_s, batch_size)
    except KafkaException as exc:
        raise ReadbackError(f"reading back {topic!r} failed: {exc.args[0]}") from None
    finally:
        consumer.close()
    return Readback(records, tuple(ranges), time.monotonic() - started)


def pending_ranges(settings: Settings, topic: str, group: str) -> tuple[PartitionRange, ...]:
    """Per partition, from `group`'s committed offset (the start when it has none) to the
    end now: what a bounded job in that group has left to read."""
    consumer = _reader(settings, group)
    try:
        return tuple(_ranges(consumer, settings, topic, None, None, True))
    except KafkaException as exc:
        raise ReadbackError(f"reading offsets of {topic!r} failed: {exc.args[0]}") from None
    finally:
        consumer.close()


def _reader(settings: Settings, group: str | None) -> Consumer:
    return Consumer(
        consumer_config(
            settings,
            group or f"streamscore-readback-{uuid.uuid4().hex[:12]}",
            **{"enable.partition.eof": True, "enable.auto.offset.store": False},
        )
    )


_LEADERSHIP_SETTLING = frozenset(
    {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE}
)


def _watermarks(consumer: Consumer, tp: TopicPartition, timeout: float) -> tuple[int, int]:
    """The partition's watermarks, asking again while its leadership settles: a topic
    just created, or a broker just restarted, answers NOT_LEADER_FOR_PARTITION (a
    retriable error) for a moment."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            return int(low), int(high)
        except KafkaException as exc:
            err = exc.args[0]
            settling = err.retriable() or err.code() in _LEADERSHIP_SETTLING
            if not settling or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _ranges(
    consumer: Consumer,
    settings: Settings,
    topic: str,
    since: datetime | None,
    last_n: int | None,
    from_committed: bool = False,
) -> list[PartitionRange]:
    timeout = settings.kafka.timeout_s
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        detail = (
            metadata.error.str() if metadata is not None and metadata.error else "no such topic"
        )
        raise ReadbackError(f"cannot read back topic {topic!r}: {detail}")
    partitions = sorted(metadata.partitions)
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for p in partitions:
        low, high = _watermarks(consumer, TopicPartition(topic, p), timeout)
        starts[p], ends[p] = low, high
        if last_n is not None:
            starts[p] = max(low, high - last_n)
    if from_committed:
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout)
        for tp in committed:
            # A negative offset: the group has committed nothing for this partition yet.
            if tp.error is None and tp.offset >= 0:
                starts[tp.partition] = max(starts[tp.partition], tp.offset)
    if since is not None:
        millis = int(since.timestamp() * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, millis) for p in partitions], timeout=timeout
        )
        for tp in found:
            if tp.error is not None:
                raise ReadbackError(
                    f"cannot look up offsets by time in {topic!r} [{tp.partition}]: {tp.error}"
                )
            # -1: no record at or after `since`, so nothing of this partition is wanted.
            at = ends[tp.partition] if tp.offset < 0 else tp.offset
            starts[tp.partition] = max(starts[tp.partition], at)
    return [PartitionRange(topic, p, min(starts[p], ends[p]), ends[p]) for p in partitions]


def _read(
    consumer: Consumer,
    ranges: list[PartitionRange],
    progress: Progress | None,
    deadline: float,
    batch_size: int,
) -> list[Message]:
    pending = {r.partition: r for r in ranges if r.size > 0}
    expected = sum(r.size for r in pending.values())
    records: list[Message] = []
    if not pending:
        return records
    topic = ranges[0].topic
    consumer.assign([TopicPartition(topic, r.partition, r.start) for r in pending.values()])
    while pending:
        if time.monotonic() > deadline:
            raise ReadbackError(
                f"read-back of {topic!r} timed out with {len(records)} of about {expected} "
                f"records read (partitions {sorted(pending)} unfinished)"
            )
        done: list[int] = []
        for msg in consumer.consume(batch_size, 0.5):
            partition = msg.partition()
            if partition is None or partition not in pending:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    done.append(partition)
                    continue
                if error.fatal() or not error.retriable():
                    raise ReadbackError(f"reading back {topic!r} [{partition}] failed: {error}")
                continue
            offset = msg.offset()
            end = pending[partition].end
            if offset is not None and offset < end:
                records.append(msg)
            if offset is None or offset >= end - 1:
                done.append(partition)
        for position in consumer.position([TopicPartition(topic, p) for p in pending]):
            if position.offset >= pending[position.partition].end:
                done.append(position.partition)
        _finish(consumer, topic, pending, done)
        if progress is not None:
            progress(len(records), expected)
    return records


def _finish(consumer: Consumer, topic: str, pending: dict[int, Any], done: list[int]) -> None:
    """Stop fetching the partitions that reached their end."""
    finished = sorted({p for p in done if p in pending})
    if finished:
        consumer.incremental_unassign([TopicPartition(topic, p) for p in finished])
        for p in finished:
            del pending[p]
