"""The `drift-alerts` record: what the drift watcher publishes when the alert policy fires.

One record per alert, keyed by model name. ``alert_id`` is derived from the model
version, the window bounds and the drifting features, so a watcher that replays a window
after a crash produces the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.drift.report import DriftReport
from core.drift.windows import OffsetRange

_ALERT_NAMESPACE = uuid.UUID("6f1d1c2e-4b8a-5d0c-9a57-3f6c2b8e9d41")


class PartitionOffsets(BaseModel):
    """The offsets of one topic-partition whose events formed the window (inclusive)."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int = Field(ge=0)
    first_offset: int = Field(ge=0)
    last_offset: int = Field(ge=0)
    events: int | None = Field(default=None, ge=0)
    """Events of this partition counted in the window (invalid ones between the offsets
    are not); with the range it shows that each event was counted in exactly one window."""

    @classmethod
    def of(cls, offsets: OffsetRange) -> PartitionOffsets:
        return cls(
            topic=offsets.topic,
            partition=offsets.partition,
            first_offset=offsets.first,
            last_offset=offsets.last,
            events=offsets.events,
        )


class DriftAlert(BaseModel):
    """`drift-alerts` value (key: model_name).

    >>> from datetime import datetime, UTC
    >>> alert = DriftAlert(
    ...     alert_id="a1", model_name="churn", model_version=3,
    ...     window_start=datetime(2026, 1, 1, tzinfo=UTC),
    ...     window_end=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
    ...     reference_events=10_000, current_events=5_000, drifting_features=["age"],
    ...     feature_results=[], severity="medium", profile_digest="0" * 64)
    >>> DriftAlert.model_validate_json(alert.model_dump_json()) == alert
    True
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    alert_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    model_version: int = Field(ge=1)
    window_start: datetime
    window_end: datetime
    reference_events: int = Field(ge=0)
    """Rows of training data the reference profile was built from."""
    current_events: int = Field(ge=0)
    """Events in the window that triggered the alert."""
    drifting_features: list[str]
    feature_results: list[dict[str, Any]]
    """Per feature, as in `DriftReport.to_dict()["features"]`: summaries, tests, verdict."""
    severity: Literal["medium", "high"]
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    report_path: str | None = None
    """Where the HTML or JSON report of the triggering window was written, if anywhere."""
    offsets: list[PartitionOffsets] = Field(default_factory=list)
    profile_digest: str = Field(min_length=1)
    windows_drifting: int | None = None
    """How many of the last `windows_considered` judged windows drifted (the M of N)."""
    windows_considered: int | None = None

    @classmethod
    def from_report(
        cls,
        report: DriftReport,
        *,
        model_name: str,
        model_version: int,
        window_start: datetime,
        window_end: datetime,
        severity: Literal["medium", "high"],
        profile_digest: str,
        offsets: list[OffsetRange] | None = None,
        report_path: str | None = None,
        windows_drifting: int | None = None,
        windows_considered: int | None = None,
        created_at: datetime | None = None,
    ) -> DriftAlert:
        """Build the alert for the window whose report tipped the policy."""
        drifting = report.drifting_features
        bounds = (window_start.isoformat(), window_end.isoformat())
        seed = "|".join((model_name, str(model_version), *bounds, *sorted(drifting)))
        return cls(
            alert_id=str(uuid.uuid5(_ALERT_NAMESPACE, seed)),
            model_name=model_name,
            model_version=model_version,
            window_start=window_start,
            window_end=window_end,
            reference_events=report.reference_rows,
            current_events=report.current_rows,
            drifting_features=drifting,
            feature_results=report.to_dict()["features"],
            severity=severity,
            created_at=created_at or datetime.now(UTC),
            report_path=report_path,
            offsets=[PartitionOffsets.of(o) for o in offsets or []],
            profile_digest=profile_digest,
            windows_drifting=windows_drifting,
            windows_considered=windows_considered,
        )
