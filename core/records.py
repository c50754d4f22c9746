"""The shapes that cross between the Kafka plumbing and the pure processing code.

`Record` is a Protocol that confluent-kafka's `Message` satisfies, so handlers are
unit-tested with plain stub objects; `OutRecord` is what a handler asks to be produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

HeaderValue = str | bytes | None
Headers = dict[str, HeaderValue] | list[tuple[str, HeaderValue]]


class Record(Protocol):
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> Headers | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass(slots=True)
class OutRecord:
    """Not frozen: a frozen dataclass's `__init__` sets each field through
    `object.__setattr__`, 0.55 µs more per record, and the scorer makes two per event.
    Nothing changes one once made."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, HeaderValue]] = field(default_factory=list)
    partition: int | None = None
    """None: the producer's partitioner chooses by key (the default for every topic)."""
    timestamp_ms: int | None = None
    """The record's Kafka timestamp; None: the time it is produced."""


def coordinates(record: Record) -> tuple[str, int, int]:
    """(topic, partition, offset) of a consumed record, which always has all three."""
    topic, partition, offset = record.topic(), record.partition(), record.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("record has no topic, partition or offset: not a consumed record")
    return topic, partition, offset


_TIMESTAMP_NOT_AVAILABLE = 0
"""The client's TIMESTAMP_NOT_AVAILABLE (this module stays free of Kafka imports)."""


def event_timestamp(record: Record) -> int | None:
    """The Kafka timestamp (ms) a record derived from `record` should carry, or None.

    A prediction carries its event's timestamp, not the time it was scored: the monitor
    measures the label delay on record timestamps, and a scorer that lags (restarts, a
    broker outage, a backlog) must not make the outcomes look late.
    """
    kind, stamp = record.timestamp()
    return stamp if kind != _TIMESTAMP_NOT_AVAILABLE and stamp >= 0 else None
