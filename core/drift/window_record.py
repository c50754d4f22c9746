"""The `drift-windows` record: the judge's verdict on every closed window, alert or not.

Alerts say when to act; this says what was seen, window by window, so a dashboard or a
test can follow every judgement. Published in the judge's transaction, one per window,
keyed by model name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.drift.judge import Judgement


class DriftWindow(BaseModel):
    """`drift-windows` value (key: model_name)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_name: str = Field(min_length=1, description="Model whose reference judged it")
    model_version: int = Field(ge=1, description="Version whose reference profile was used")
    window_start: datetime = Field(description="Window start (count windows: first event)")
    window_end: datetime = Field(description="Window end (count windows: last event)")
    events: int = Field(ge=0, description="Valid events in the window, every partition's")
    partitions: list[int] = Field(description="Input partitions whose shares it merges")
    verdict: Literal["skipped", "drift", "stable"] = Field(
        description="skipped: too few events to judge (`drift.min_window_events`)"
    )
    drifting_features: list[str] = Field(description="Features that drift in this window")
    alert_id: str | None = Field(
        default=None, description="The `drift-alerts` record it raised, if any"
    )
    reason: str = Field(description="Why the alert policy did or did not alert")

    @classmethod
    def from_judgement(
        cls, judged: Judgement, model_name: str, model_version: int, partitions: list[int]
    ) -> DriftWindow:
        window = judged.window
        return cls(
            model_name=model_name,
            model_version=model_version,
            window_start=_time(window.start),
            window_end=_time(window.end),
            events=window.events,
            partitions=partitions,
            verdict=judged.verdict,
            drifting_features=list(judged.report.drifting_features),
            alert_id=judged.alert.alert_id if judged.alert else None,
            reason=judged.decision.reason,
        )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds if abs(seconds) < 1e11 else 0.0, UTC)
