"""Does a dead letter pass now? The same rules the scorer applies, under today's contract
and settings, and the record that puts it back on the input topic when it does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.dead_letters.letter import DeadLetter
from core.dead_letters.reasons import KNOWN_REASONS
from core.errors import StreamscoreError
from core.records import OutRecord
from core.schemas import REPLAYED_FROM_HEADER
from core.validation import InvalidEvent, parse_event

Skip = Literal["reason_filter", "before_since", "other_source"]


class UnknownReason(StreamscoreError):
    """`--reason` names no reason a dead letter can have."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unknown reason {reason!r}")

    hint = "use one of " + ", ".join(sorted(KNOWN_REASONS))


def known_reasons(reasons: Iterable[str]) -> frozenset[str]:
    """`reasons` as a set, or `UnknownReason` for the first that is not one."""
    chosen = frozenset(reasons)
    for reason in sorted(chosen):
        if reason not in KNOWN_REASONS:
            raise UnknownReason(reason)
    return chosen


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a replay looks at; the others are passed over (`Skip`)."""

    input_topic: str
    reasons: frozenset[str] = frozenset()
    """Empty: every reason."""
    since: datetime | None = None
    """Only dead letters written at or after this time."""

    def skip(self, letter: DeadLetter) -> Skip | None:
        if self.reasons and letter.reason not in self.reasons:
            return "reason_filter"
        if self.since is not None and letter.written_at < self.since:
            return "before_since"
        if letter.source_topic is not None and letter.source_topic != self.input_topic:
            return "other_source"
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a replay does with one dead letter."""

    letter: DeadLetter
    outcome: Literal["replayed", "still_invalid", "skipped"]
    reason: str = ""
    """still_invalid: today's reason; skipped: the `Skip`."""


def revalidate(letter: DeadLetter, selection: Selection, max_event_bytes: int) -> Verdict:
    """The verdict on `letter` under the current validation rules."""
    skip = selection.skip(letter)
    if skip is not None:
        return Verdict(letter, "skipped", skip)
    # The DLQ stores a tombstone's missing value as empty bytes; both are no event.
    raw = letter.value or None
    try:
        parse_event(raw, max_event_bytes)
    except InvalidEvent as exc:
        return Verdict(letter, "still_invalid", exc.error_type)
    return Verdict(letter, "replayed")


def replay_record(letter: DeadLetter, input_topic: str) -> OutRecord:
    """The input record again: original key and value bytes, partitioned by key as a
    producer's would be, and where it was dead-lettered (`streamscore.replayed-from`)."""
    return OutRecord(
        topic=input_topic,
        value=letter.value,
        key=letter.key,
        headers=[(REPLAYED_FROM_HEADER, letter.coordinates.encode())],
    )
