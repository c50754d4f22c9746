"""What the retrainer reads of an alert, whichever monitor raised it.

Drift alerts (`core.drift.alert.DriftAlert`) and performance alerts
(`core.performance.records.PerformanceAlert`) share the four fields the policy needs;
reading only those keeps the retrainer working with any alert topic that has them, and
with later compatible additions to either record.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AlertRef(BaseModel):
    """The policy's view of one alert (`core.retraining.policy.RetrainAlert`).

    >>> AlertRef.model_validate_json(
    ...     '{"alert_id": "a1", "model_name": "churn", "model_version": 3,'
    ...     ' "severity": "high", "drifting_features": ["age"]}').severity
    'high'
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    alert_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    model_version: int = Field(ge=1)
    severity: str
