"""The `retrain-decisions` record: what the retrainer did about one set of alerts, and why.

One record per decision (an alert skipped, a challenger rejected, trained or promoted),
keyed by model name, for a `retrain-decisions` topic or the logs. `decision_id` is
derived from the model, the alert ids, the champion version and the outcome, so a
retrainer that repeats a decision after a crash writes the same id and readers can drop
the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.drift.alert import PartitionOffsets
from core.retraining.dataset import DataLineage
from core.retraining.gate import GateVerdict
from core.retraining.policy import PolicyDecision

_DECISION_NAMESPACE = uuid.UUID("0b7e3c52-2f4d-5a61-8c1e-6d9f4a2b7c30")

DecisionOutcome = Literal["trained", "promoted", "rejected", "skipped"]
Trigger = Literal["alert", "manual"]


class GateFigures(BaseModel):
    """The gate's verdict in numbers: both models on the same holdout rows."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    passed: bool
    metric: str
    """The metric both conditions are judged on (e.g. `roc_auc`)."""
    floor: float
    """Absolute level the challenger had to reach (a ceiling for log_loss and brier)."""
    margin: float
    """Non-inferiority margin, in the metric's units."""
    confidence: float
    """One-sided confidence of the lower bound."""
    challenger: dict[str, float]
    """Challenger's holdout roc_auc, accuracy, f1, log_loss and brier."""
    champion: dict[str, float] | None = None
    """Champion's figures on the same rows; absent when nothing was in production."""
    difference: float | None = None
    """Challenger's advantage on `metric` (positive: better)."""
    interval_low: float | None = None
    """Lower end of the paired bootstrap interval of the advantage (the decision bound)."""
    interval_high: float | None = None
    holdout_rows: int = Field(ge=0)
    resamples: int = Field(ge=0)

    @classmethod
    def of(cls, verdict: GateVerdict) -> GateFigures:
        low, high = verdict.interval if verdict.interval is not None else (None, None)
        return cls(
            passed=verdict.passed,
            metric=verdict.metric,
            floor=verdict.floor,
            margin=verdict.margin,
            confidence=verdict.confidence,
            challenger=verdict.challenger,
            champion=verdict.champion,
            difference=verdict.difference,
            interval_low=low,
            interval_high=high,
            holdout_rows=verdict.holdout_rows,
            resamples=verdict.resamples,
        )

    @classmethod
    def from_lineage(cls, gate: dict[str, Any]) -> GateFigures:
        """From the `retraining.gate` dict a registered challenger's metadata keeps."""
        interval = gate.get("interval") or (None, None)
        return cls(
            passed=bool(gate["passed"]),
            metric=str(gate["metric"]),
            floor=float(gate["floor"]),
            margin=float(gate["margin"]),
            confidence=float(gate["confidence"]),
            challenger=dict(gate["challenger"]),
            champion=gate.get("champion"),
            difference=gate.get("difference"),
            interval_low=interval[0],
            interval_high=interval[1],
            holdout_rows=int(gate["holdout_rows"]),
            resamples=int(gate["resamples"]),
        )


class DataRange(BaseModel):
    """Which labelled events the challenger was trained and judged on."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    first_event_time: datetime
    last_event_time: datetime
    rows: int = Field(ge=0)
    """Labelled events used, training and holdout together."""
    offsets: list[PartitionOffsets] = Field(default_factory=list)
    """Per event partition, the first and last offset used (inclusive)."""

    @classmethod
    def of(cls, lineage: DataLineage) -> DataRange:
        return cls(
            first_event_time=lineage.first_event_time,
            last_event_time=lineage.last_event_time,
            rows=lineage.rows,
            offsets=list(lineage.event_offsets),
        )

    @classmethod
    def from_lineage(cls, data: dict[str, Any]) -> DataRange:
        """From the `retraining.data` dict a registered challenger's metadata keeps."""
        return cls(
            first_event_time=data["first_event_time"],
            last_event_time=data["last_event_time"],
            rows=int(data["rows"]),
            offsets=[PartitionOffsets.model_validate(o) for o in data.get("event_offsets", [])],
        )


class RetrainDecision(BaseModel):
    """`retrain-decisions` value (key: model_name).

    >>> d = RetrainDecision.build(["a1"], "churn", 3, "skipped", "alert is stale")
    >>> RetrainDecision.model_validate_json(d.model_dump_json()) == d
    True
    >>> d.decision_id == RetrainDecision.build(["a1"], "churn", 3, "skipped", "x").decision_id
    True
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    decision_id: str = Field(min_length=1)
    """Derived from model, alert ids, champion version and outcome: a repeat has the same."""
    alert_ids: list[str]
    """The alerts this decision answers (more than one when alerts were folded)."""
    model_name: str = Field(min_length=1)
    champion_version: int | None = Field(default=None, ge=1)
    """The production version when the decision was made; None when there was none."""
    challenger_version: int | None = Field(default=None, ge=1)
    """The registered challenger's version; None when none was registered."""
    outcome: DecisionOutcome
    """trained: registered, not promoted; promoted: registered and in production;
    rejected: a training was attempted and failed the gate or lacked data; skipped: the
    policy did not train (stale, cooldown, severity, already decided)."""
    reason: str
    """Why, in words a person on call can act on."""
    gate: GateFigures | None = None
    """Present when a challenger was gated."""
    data: DataRange | None = None
    """Present when labelled data was read."""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trigger: Trigger = "alert"
    """alert: answers `alert_ids`; manual: `streamscore retrain --once` (no alert)."""

    @classmethod
    def build(
        cls,
        alert_ids: Sequence[str],
        model_name: str,
        champion_version: int | None,
        outcome: DecisionOutcome,
        reason: str,
        *,
        challenger_version: int | None = None,
        verdict: GateVerdict | None = None,
        lineage: DataLineage | None = None,
        gate: GateFigures | None = None,
        data: DataRange | None = None,
        created_at: datetime | None = None,
        trigger: Trigger = "alert",
    ) -> RetrainDecision:
        """`verdict`/`lineage` from a training just done, or `gate`/`data` as recorded.

        A manual decision answers no alert, so its id also names its time: two manual
        retrains are two decisions, while an alert's repeated decision keeps its id.
        """
        ids = sorted(alert_ids)
        created = created_at or datetime.now(UTC)
        seed = "|".join((model_name, str(champion_version), outcome, *ids))
        if trigger == "manual":
            seed += "|manual|" + created.isoformat()
        if verdict is not None:
            gate = GateFigures.of(verdict)
        if lineage is not None:
            data = DataRange.of(lineage)
        return cls(
            decision_id=str(uuid.uuid5(_DECISION_NAMESPACE, seed)),
            alert_ids=ids,
            model_name=model_name,
            champion_version=champion_version,
            challenger_version=challenger_version,
            outcome=outcome,
            reason=reason,
            gate=gate,
            data=data,
            created_at=created,
            trigger=trigger,
        )

    @classmethod
    def skipped(cls, decision: PolicyDecision) -> RetrainDecision:
        """The record of an alert the policy did not train on."""
        return cls.build(
            [decision.alert_id],
            decision.model_name,
            decision.production_version,
            "skipped",
            f"{decision.outcome.value}: {decision.reason}",
            created_at=decision.decided_at,
        )
