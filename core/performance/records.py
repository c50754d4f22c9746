"""The `model-performance` and `performance-alerts` records the monitor publishes.

`PerformanceWindow`: one record per closed window and model version, judged or not,
keyed by model name; `PerformanceAlert`: one per alert. ``alert_id`` is derived from the
model version, the metric and the window bounds, so a monitor that replays a window
after a crash produces the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.performance.detector import Verdict
from core.performance.policy import AlertDecision
from core.performance.windows import ClosedWindow

_ALERT_NAMESPACE = uuid.UUID("0b7e3f52-9c4d-5a61-8e2f-6d1c4b9a7e30")


class CalibrationBin(BaseModel):
    """One equal-width bin of predicted probability."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    lower: float = Field(ge=0, le=1)
    upper: float = Field(ge=0, le=1)
    count: int = Field(ge=0)
    """Labelled predictions whose probability fell in [lower, upper)."""
    mean_predicted: float | None = None
    """Their mean predicted probability (null when the bin is empty)."""
    observed_rate: float | None = None
    """Their share of label 1: equal to mean_predicted when the model is calibrated."""


class PerformanceWindow(BaseModel):
    """`model-performance` value (key: model_name).

    >>> from datetime import datetime, UTC
    >>> record = PerformanceWindow(
    ...     model_name="churn", model_version=2,
    ...     window_start=datetime(2026, 1, 1, tzinfo=UTC),
    ...     window_end=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
    ...     labelled_events=480, predictions=500, coverage=0.96,
    ...     metrics={"accuracy": 0.79}, calibration=[], judged=True,
    ...     reason="accuracy 0.790 meets the threshold 0.750")
    >>> PerformanceWindow.model_validate_json(record.model_dump_json()) == record
    True
    """

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    model_name: str = Field(min_length=1)
    model_version: int = Field(ge=1)
    """The registry version that made the window's predictions."""
    window_start: datetime
    """Start of the window, by prediction time (inclusive)."""
    window_end: datetime
    """End of the window (exclusive)."""
    labelled_events: int = Field(ge=0)
    """Predictions of the window joined with their outcome."""
    predictions: int = Field(ge=0)
    """Predictions of the window, labelled or not."""
    coverage: float | None = Field(default=None, ge=0, le=1)
    """labelled_events / predictions (null without predictions)."""
    metrics: dict[str, float | None]
    """roc_auc (with roc_auc_error_bound: largest difference from the exact AUC),
    accuracy, log_loss, brier, positive_rate, predicted_rate, mean_probability, coverage;
    null where undefined (e.g. roc_auc with one class)."""
    calibration: list[CalibrationBin]
    """Calibration table: count, mean predicted and observed rate per probability bin."""
    judged: bool
    """Whether the window had enough labels to be judged against its threshold."""
    reason: str
    """The verdict in words: why not judged, or the metric, interval and threshold."""
    metric: str | None = None
    """The judged metric (accuracy or roc_auc)."""
    interval: tuple[float, float] | None = None
    """Confidence interval (lo, hi) of the judged metric, when judged."""
    threshold: float | None = None
    """max(floor, baseline - margin): the window fails when the interval is below it."""
    failing: bool = False
    """The whole interval lies below the threshold."""

    @classmethod
    def from_window(cls, window: ClosedWindow, verdict: Verdict) -> PerformanceWindow:
        """The record of a closed window and its verdict."""
        state = window.state
        return cls(
            model_name=window.model_name,
            model_version=window.model_version,
            window_start=window.start_time,
            window_end=window.end_time,
            labelled_events=state.labelled,
            predictions=state.predictions,
            coverage=state.coverage(),
            metrics=state.figures(),
            calibration=[CalibrationBin(**row) for row in state.calibration()],
            judged=verdict.judged,
            reason=verdict.reason,
            metric=verdict.metric,
            interval=verdict.interval,
            threshold=verdict.threshold,
            failing=verdict.failing,
        )


class PerformanceAlert(BaseModel):
    """`performance-alerts` value (key: model_name).

    >>> from datetime import datetime, UTC
    >>> alert = PerformanceAlert(
    ...     alert_id="a1", model_name="churn", model_version=2, metric="accuracy",
    ...     value=0.54, interval=(0.49, 0.59), baseline=0.79, threshold=0.74,
    ...     window_start=datetime(2026, 1, 1, tzinfo=UTC),
    ...     window_end=datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
    ...     labelled_events=1_000, severity="high")
    >>> PerformanceAlert.model_validate_json(alert.model_dump_json()) == alert
    True
    """

    model_config = ConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    alert_id: str = Field(min_length=1)
    """Derived from model, version, metric and window bounds: a replay repeats it."""
    model_name: str = Field(min_length=1)
    model_version: int = Field(ge=1)
    metric: Literal["accuracy", "roc_auc"]
    """The judged metric."""
    value: float
    """The metric over the triggering window's labelled predictions."""
    interval: tuple[float, float]
    """Confidence interval (lo, hi) of value; wholly below threshold."""
    baseline: float | None = None
    """The version's holdout figure from the registry, if it has one."""
    threshold: float
    """max(floor, baseline - margin), or the floor without a baseline."""
    window_start: datetime
    window_end: datetime
    labelled_events: int = Field(ge=0)
    """Labelled predictions in the triggering window."""
    severity: Literal["medium", "high"]
    """high when value is at least `high_severity_drop` below threshold."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    windows_failing: int | None = None
    """How many of the last `windows_considered` judged windows failed (the M of N)."""
    windows_considered: int | None = None

    @classmethod
    def from_verdict(
        cls,
        window: ClosedWindow,
        verdict: Verdict,
        decision: AlertDecision,
        *,
        created_at: datetime | None = None,
    ) -> PerformanceAlert:
        """Build the alert for the window whose verdict tipped the policy."""
        if verdict.value is None or verdict.interval is None or decision.severity is None:
            raise ValueError("an alert needs a judged, failing window and a severity")
        bounds = (window.start_time.isoformat(), window.end_time.isoformat())
        seed = "|".join((window.model_name, str(window.model_version), verdict.metric, *bounds))
        return cls(
            alert_id=str(uuid.uuid5(_ALERT_NAMESPACE, seed)),
            model_name=window.model_name,
            model_version=window.model_version,
            metric=verdict.metric,
            value=verdict.value,
            interval=verdict.interval,
            baseline=verdict.baseline,
            threshold=verdict.threshold,
            window_start=window.start_time,
            window_end=window.end_time,
            labelled_events=verdict.labelled,
            severity=decision.severity,
            created_at=created_at or datetime.now(UTC),
            windows_failing=decision.windows_failing,
            windows_considered=decision.windows_considered,
        )
