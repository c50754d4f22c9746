"""What a dead letter carries, read from the headers `core.kafka.dead_letter` writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.dead_letters.reasons import UNKNOWN
from core.records import Record, coordinates
from core.schemas import DeadLetterHeaders


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic, its headers decoded."""

    topic: str
    partition: int
    offset: int
    """Where the dead letter itself sits (what `streamscore.replayed-from` names)."""
    written_at: datetime
    """The DLQ record's timestamp: when the input was dead-lettered."""
    reason: str
    """`error.type`: why the input was rejected then."""
    message: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, record: Record) -> DeadLetter:
        topic, partition, offset = coordinates(record)
        headers: dict[str, str] = {}
        given = record.headers() or []
        for name, raw in given.items() if isinstance(given, dict) else given:
            if isinstance(raw, bytes):
                headers.setdefault(name, raw.decode("utf-8", "replace"))
            elif isinstance(raw, str):
                headers.setdefault(name, raw)
        _, millis = record.timestamp()
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            written_at=datetime.fromtimestamp(max(millis, 0) / 1000, UTC),
            reason=headers.get(DeadLetterHeaders.ERROR_TYPE.value) or UNKNOWN,
            message=headers.get(DeadLetterHeaders.ERROR_MESSAGE.value, ""),
            source_topic=headers.get(DeadLetterHeaders.SOURCE_TOPIC.value) or None,
            source_partition=_int(headers.get(DeadLetterHeaders.SOURCE_PARTITION.value)),
            source_offset=_int(headers.get(DeadLetterHeaders.SOURCE_OFFSET.value)),
            key=record.key(),
            value=record.value() or b"",
        )

    @property
    def coordinates(self) -> str:
        """`topic:partition:offset` of the dead letter."""
        return f"{self.topic}:{self.partition}:{self.offset}"


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
