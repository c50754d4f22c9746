"""State checkpoints written in the batch's transaction, read back on start or assign.

A stateful consumer (drift windows, a join buffer) must never have state that disagrees
with its committed offsets. So each batch's transaction carries, beside its outputs and
offsets, a checkpoint of the state on a compacted changelog topic; on restart (or when
a partition is assigned) the last committed checkpoint is read back with
`read_committed`, and it matches the committed offsets by construction.

Keys name the owner: `<group>:<partition>` for state kept per input partition (written
to the changelog partition of the same number, so the changelog must have at least as
many partitions as the input), or `<group>` for state of a whole group (partition 0).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from core.kafka.config import consumer_config
from core.kafka.exceptions import KafkaLayerError
from core.records import OutRecord
from core.settings import Settings

_LEADER_MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE})
"""Answers a broker gives while a new partition's leader is being elected."""

WHOLE_GROUP: None = None
"""The partition argument for state that belongs to the whole group."""


class ChangelogError(KafkaLayerError):
    hint = "create the changelog topic with as many partitions as the input (`topics create`)"


class CheckpointRestoreStalled(ChangelogError):
    """The checkpoint topic stopped delivering before its end: state read so far may be
    older than the committed offsets, and resuming on it would count events twice or
    lose them, so the consumer stops instead."""

    hint = "restart once the broker serves the checkpoint topic again (see its logs)"


class CheckpointStore:
    def __init__(self, settings: Settings, topic: str, group_id: str) -> None:
        self._settings = settings
        self.topic = topic
        self._group = group_id

    def key(self, partition: int | None) -> bytes:
        return (self._group if partition is None else f"{self._group}:{partition}").encode()

    def record(self, state: bytes, partition: int | None = WHOLE_GROUP) -> OutRecord:
        """The checkpoint record to produce in the batch's transaction."""
        return OutRecord(
            self.topic, state, self.key(partition), partition=0 if partition is None else partition
        )

    def restore(self, partitions: Iterable[int | None] = (WHOLE_GROUP,)) -> dict[int | None, bytes]:
        """The last committed checkpoint of each owner that has one."""
        wanted = {self.key(p): p for p in partitions}
        changelog = sorted({0 if p is None else p for p in wanted.values()})
        found: dict[int | None, bytes] = {}
        consumer = Consumer(
            consumer_config(self._settings, f"{self._group}-restore-{uuid.uuid4().hex[:8]}")
        )
        try:
            self._check_partitions(consumer, changelog)
            for partition in changelog:
                for key, value in self._read_partition(consumer, partition).items():
                    if key in wanted:
                        found[wanted[key]] = value
        finally:
            consumer.close()
        return found

    def _check_partitions(self, consumer: Consumer, changelog: list[int]) -> None:
        try:
            metadata = consumer.list_topics(self.topic, timeout=self._settings.kafka.timeout_s)
        except KafkaException as exc:
            raise ChangelogError(f"changelog topic {self.topic} unreadable: {exc}") from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            raise ChangelogError(f"changelog topic {self.topic} does not exist")
        if changelog and max(changelog) >= len(topic.partitions):
            raise ChangelogError(
                f"changelog topic {self.topic} has {len(topic.partitions)} partitions; "
                f"state of partition {max(changelog)} needs more"
            )

    def _read_partition(self, consumer: Consumer, partition: int) -> dict[bytes, bytes]:
        """Latest value per key, read to the end of the committed part of the partition."""
        timeout = self._settings.kafka.timeout_s
        tp = TopicPartition(self.topic, partition)
        _, high = self._end_offsets(consumer, tp, timeout)
        latest: dict[bytes, bytes] = {}
        if high <= 0:
            return latest
        consumer.assign([TopicPartition(self.topic, partition, 0)])
        stall_s = timeout * 3
        deadline = time.monotonic() + stall_s
        position = 0
        while position < high:
            if time.monotonic() >= deadline:
                consumer.unassign()
                raise CheckpointRestoreStalled(
                    f"changelog topic {self.topic} partition {partition}: read to offset "
                    f"{position} of {high}, then nothing for {stall_s:.0f} s"
                )
            before = position
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    continue
                position = (msg.offset() or 0) + 1
                key, value = msg.key(), msg.value()
                if key is not None and value is not None:
                    latest[key] = value
            # Transaction markers take offsets too: stop once the position passes them.
            position = max(position, consumer.position([tp])[0].offset)
            if position > before:
                deadline = time.monotonic() + stall_s
        consumer.unassign()
        return latest

    def _end_offsets(self, consumer: Consumer, tp: TopicPartition, timeout: float) -> Any:
        """Watermarks, retried while the error is retriable: right after the changelog is
        created (or a leader moves) the broker answers NOT_LEADER_FOR_PARTITION for a
        moment, and a restore must not fail the consumer for that."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return consumer.get_watermark_offsets(tp, timeout=timeout)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                retriable = isinstance(error, KafkaError) and (
                    error.retriable() or error.code() in _LEADER_MOVING
                )
                if not retriable or time.monotonic() >= deadline:
                    raise ChangelogError(
                        f"changelog topic {self.topic} partition {tp.partition}: {exc}"
                    ) from None
                time.sleep(0.2)
