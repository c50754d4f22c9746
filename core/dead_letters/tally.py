"""How a replay went, counted by outcome: what `dlq replay` prints and `--json` emits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.dead_letters.revalidation import Verdict


@dataclass
class ReplayTally:
    """Counts of verdicts. `merge` adds a committed batch's tally, so an aborted batch
    (redone later) is never counted twice.

    >>> from core.dead_letters.letter import DeadLetter
    >>> from datetime import UTC, datetime
    >>> d = DeadLetter("dlq", 0, 7, datetime.now(UTC), "oversized_message", "", None,
    ...                None, None, b"k", b"{}")
    >>> t = ReplayTally.of([Verdict(d, "replayed"), Verdict(d, "still_invalid", "missing_field")])
    >>> t.as_dict()["still_invalid"], t.examined
    ({'missing_field': 1}, 2)
    """

    replayed: Counter[str] = field(default_factory=Counter)
    """By the reason it was dead-lettered for."""
    still_invalid: Counter[str] = field(default_factory=Counter)
    """By today's reason."""
    skipped: Counter[str] = field(default_factory=Counter)
    """By why it was passed over (`revalidation.Skip`)."""

    @classmethod
    def of(cls, verdicts: Iterable[Verdict]) -> ReplayTally:
        tally = cls()
        for v in verdicts:
            tally.add(v)
        return tally

    def add(self, verdict: Verdict) -> None:
        if verdict.outcome == "replayed":
            self.replayed[verdict.letter.reason] += 1
        elif verdict.outcome == "still_invalid":
            self.still_invalid[verdict.reason] += 1
        else:
            self.skipped[verdict.reason] += 1

    def merge(self, other: ReplayTally) -> None:
        self.replayed.update(other.replayed)
        self.still_invalid.update(other.still_invalid)
        self.skipped.update(other.skipped)

    @property
    def examined(self) -> int:
        return self.replayed.total() + self.still_invalid.total() + self.skipped.total()

    def as_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "replayed": self.replayed.total(),
            "replayed_by_original_reason": dict(sorted(self.replayed.items())),
            "still_invalid": dict(sorted(self.still_invalid.items())),
            "skipped": dict(sorted(self.skipped.items())),
        }
