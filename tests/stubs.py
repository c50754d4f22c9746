"""Hand-made stand-ins for Kafka records, for unit tests and offline benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

from core.records import Headers


@dataclass(frozen=True, slots=True)
class StubRecord:
    """A `Record` made by hand, for unit tests and offline replays."""

    topic_: str
    partition_: int
    offset_: int
    value_: bytes | None
    key_: bytes | None = None
    headers_: Headers | None = None
    timestamp_ms: int = 0

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> Headers | None:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return (1, self.timestamp_ms)
