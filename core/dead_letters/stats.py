"""`dlq stats`: what is in the dead-letter topic over a time range, safe to paste into a
ticket (samples go through `SampleRedactor`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.dead_letters.letter import DeadLetter
from core.dead_letters.redaction import SampleRedactor
from core.dead_letters.time_range import TimeRange


@dataclass
class DeadLetterStats:
    """Counts by reason and by source partition, with a few redacted samples per reason."""

    window: TimeRange
    by_reason: Counter[str] = field(default_factory=Counter)
    by_source_partition: Counter[str] = field(default_factory=Counter)
    """Keyed `topic[partition]` of the input the dead letter came from."""
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    first: DeadLetter | None = None
    last: DeadLetter | None = None

    @classmethod
    def of(
        cls,
        letters: Iterable[DeadLetter],
        window: TimeRange,
        redact: SampleRedactor,
        samples_per_reason: int,
    ) -> DeadLetterStats:
        stats = cls(window)
        for letter in letters:
            if letter.written_at not in window:
                continue
            stats.by_reason[letter.reason] += 1
            source = f"{letter.source_topic or '?'}[{_or_unknown(letter.source_partition)}]"
            stats.by_source_partition[source] += 1
            if stats.first is None or letter.written_at < stats.first.written_at:
                stats.first = letter
            if stats.last is None or letter.written_at >= stats.last.written_at:
                stats.last = letter
            shown = stats.samples.setdefault(letter.reason, [])
            if len(shown) < samples_per_reason:
                shown.append(_sample(letter, redact))
        return stats

    @property
    def total(self) -> int:
        return self.by_reason.total()

    def as_dict(self) -> dict[str, Any]:
        w = self.window
        return {
            "since": w.since.isoformat() if w.since else None,
            "until": w.until.isoformat() if w.until else None,
            "total": self.total,
            "first_at": self.first.written_at.isoformat() if self.first else None,
            "last_at": self.last.written_at.isoformat() if self.last else None,
            "by_reason": dict(self.by_reason.most_common()),
            "by_source_partition": dict(sorted(self.by_source_partition.items())),
            "samples": self.samples,
        }


def _sample(letter: DeadLetter, redact: SampleRedactor) -> dict[str, Any]:
    return {
        "dead_letter": letter.coordinates,
        "written_at": letter.written_at.isoformat(),
        "source": f"{letter.source_topic}:{letter.source_partition}:{letter.source_offset}",
        "message": letter.message,
        "key": redact.key(letter.key),
        "value": redact(letter.value),
    }


def _or_unknown(value: int | None) -> str:
    return "?" if value is None else str(value)
