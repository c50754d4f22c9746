"""The `drift-windows` record: one per window the drift watcher closed and judged.

Alerts say when the policy fired; this record says what every window was, so a reader
can audit the watcher from the outside: each window's verdict, how many events it
counted, and per topic-partition the offset range and count those events came from.
``window_id`` is derived from the model version and the window's key, so a replayed
window (which exactly-once forbids) would show up as a repeated id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.drift.alert import PartitionOffsets
from core.drift.judge import Judgement

_WINDOW_NAMESPACE = uuid.UUID("0b6f2f4e-9d3c-5a71-8e2b-4c1d7a9f3e60")


class DriftWindowRecord(BaseModel):
    """`drift-windows` value (key: model_name).

    >>> from datetime import datetime, UTC
    >>> record = DriftWindowRecord(
    ...     window_id="w1", model_name="churn", model_version=1,
    ...     window_start=datetime(2026, 1, 1, tzinfo=UTC),
    ...     window_end=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC),
    ...     events=2_000, verdict="stable", late_events=0)
    >>> DriftWindowRecord.model_validate_json(record.model_dump_json()) == record
    True
    """

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    window_id: str = Field(min_length=1)
    """Stable per model version and window: the same window judged twice repeats it."""
    model_name: str = Field(min_length=1)
    model_version: int = Field(ge=1)
    """The production version whose reference profile judged the window."""
    window_start: datetime | None
    """Event-time bounds (a count window's are its earliest and latest event times)."""
    window_end: datetime | None
    events: int = Field(ge=0)
    """Events counted in the window: the sum of `offsets[].events`."""
    verdict: Literal["skipped", "drift", "stable"]
    """`skipped`: too few events to judge (`drift.min_window_events`)."""
    drifting_features: list[str] = Field(default_factory=list)
    alert_id: str | None = None
    """The alert this window raised, if it raised one."""
    offsets: list[PartitionOffsets] = Field(default_factory=list)
    late_events: int = Field(ge=0)
    """Events the watcher has dropped as late since its reference profile was loaded."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(
        cls, judged: Judgement, *, model_name: str, model_version: int, late_events: int
    ) -> DriftWindowRecord:
        window = judged.window
        seed = "|".join((model_name, str(model_version), repr(window.key)))
        return cls(
            window_id=str(uuid.uuid5(_WINDOW_NAMESPACE, seed)),
            model_name=model_name,
            model_version=model_version,
            window_start=_time(window.start),
            window_end=_time(window.end),
            events=window.events,
            verdict=judged.verdict,
            drifting_features=judged.report.drifting_features,
            alert_id=judged.alert.alert_id if judged.alert else None,
            offsets=[PartitionOffsets.of(o) for o in window.offset_ranges()],
            late_events=late_events,
        )


def _time(seconds: float) -> datetime | None:
    if seconds in (float("inf"), float("-inf")) or seconds != seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC)
