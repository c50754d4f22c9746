"""One retraining, from labelled records to a recorded decision: what `streamscore retrain`
does for an alert, and `streamscore retrain --once` on demand.

Each step is safe to repeat after a crash, because each starts by reading what an
earlier run already recorded:

  1. a registered version whose lineage answers these alerts means an earlier run got
     that far: its recorded verdict is finished (promoted or rejected), nothing retrains;
  2. otherwise the labelled events are read back (`read`, injected: Kafka lives in
     `core.kafka.labelled`), joined, and a challenger is trained and gated against the
     production version (`core.retraining.trainer`);
  3. the challenger is registered with its lineage, rejected ones too (see
     `ModelRegistry.reject`: the rejection then shows in `registry history`);
  4. staging then production, announced on `model-events`; or `rejected`, announced;
  5. the decision record is built from what the registry holds, so a repeat builds the
     same record with the same id.

Too few labelled rows is a `rejected` decision without a version, never a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.logging import get_logger
from core.promotion import Announce, promote, reject
from core.records import Record
from core.registry import ModelRegistry, ModelVersion
from core.retraining.config import RetrainConfig
from core.retraining.dataset import build_dataset
from core.retraining.decision import (
    DataRange,
    DecisionOutcome,
    GateFigures,
    RetrainDecision,
    Trigger,
)
from core.retraining.exceptions import NotEnoughLabelledData, RetrainingError
from core.retraining.trainer import train_challenger

NOT_ENOUGH_DATA = "not enough labelled data"
"""How a rejection for lack of labels starts its reason (and its metric label)."""


@dataclass(frozen=True)
class LabelledRecords:
    """Events and outcomes read back for one retraining."""

    events: Sequence[Record]
    outcomes: Sequence[Record]
    seconds: float


ReadLabelled = Callable[[datetime], LabelledRecords]
"""Reads the lookback that ends at the given time (`core.kafka.labelled.reader`)."""


class RetrainCancelled(RetrainingError):
    """The process is stopping: the training is dropped before anything is recorded."""

    hint = "the alert was not committed; the restarted retrainer answers it"


@dataclass(frozen=True)
class RetrainReport:
    decision: RetrainDecision
    timings: dict[str, float]
    """Seconds per step: read_back_s, join_s, split_s, fit_s, gate_s, profile_s,
    register_s, promote_s (those that ran)."""
    events_read: int = 0
    outcomes_read: int = 0
    resumed: bool = False
    """True when an earlier run had registered the challenger and this one finished it."""

    @property
    def training_seconds(self) -> float:
        return sum(self.timings.values())


@dataclass
class RetrainJob:
    registry: ModelRegistry
    name: str
    config: RetrainConfig
    max_event_bytes: int
    """`settings.validation.max_event_bytes`: the rule the scorer applies."""
    read: ReadLabelled
    announce: Announce
    cancelled: Callable[[], bool] = field(default=lambda: False)

    def run(
        self, alert_ids: Sequence[str], *, trigger: Trigger = "alert", now: datetime | None = None
    ) -> RetrainReport:
        ids = sorted(alert_ids)
        log = get_logger(component="retrainer").bind(model_name=self.name, alert_ids=ids)
        earlier = self.registered_for(ids)
        if earlier is not None:
            log.info("retrain_resumed", challenger_version=earlier.version)
            return self._finish(earlier, ids, trigger, {}, resumed=True)
        now = now or datetime.now(UTC)
        timings: dict[str, float] = {}
        champion_version = self.registry.production_version(self.name)
        champion = (
            self.registry.load(self.name, champion_version)
            if champion_version is not None
            else None
        )
        started = time.perf_counter()
        records = self.read(now)
        timings["read_back_s"] = time.perf_counter() - started
        read_counts = (len(records.events), len(records.outcomes))
        try:
            started = time.perf_counter()
            dataset = build_dataset(
                records.events,
                records.outcomes,
                self.config,
                now=now,
                max_event_bytes=self.max_event_bytes,
            )
            timings["join_s"] = time.perf_counter() - started
            result = train_challenger(
                dataset,
                champion,
                self.config,
                parent_version=champion_version,
                alert_ids=ids,
            )
        except NotEnoughLabelledData as exc:
            decision = RetrainDecision.build(
                ids,
                self.name,
                champion_version,
                "rejected",
                f"{NOT_ENOUGH_DATA}: {exc}",
                trigger=trigger,
            )
            log.warning("retrain_not_enough_data", reason=str(exc))
            return RetrainReport(decision, _rounded(timings), *read_counts)
        timings |= result.timings
        if self.cancelled():
            raise RetrainCancelled("stopping: the challenger was trained but not registered")
        started = time.perf_counter()
        version = result.register(
            self.registry, self.name, trigger="retrain" if trigger == "alert" else "manual-retrain"
        )
        timings["register_s"] = time.perf_counter() - started
        log.info(
            "challenger_registered",
            challenger_version=version.version,
            passed=result.passed,
            reasons=list(result.verdict.reasons),
        )
        report = self._finish(version, ids, trigger, timings)
        return RetrainReport(report.decision, report.timings, *read_counts)

    def registered_for(self, alert_ids: Sequence[str]) -> ModelVersion | None:
        """The newest registered version whose lineage answers one of `alert_ids`."""
        wanted = set(alert_ids)
        if not wanted or self.name not in self.registry.models():
            return None
        for version in reversed(self.registry.versions(self.name)):
            lineage = version.metadata.get("retraining")
            if isinstance(lineage, dict) and wanted & {
                str(a) for a in lineage.get("alert_ids", ())
            }:
                return version
        return None

    def _finish(
        self,
        version: ModelVersion,
        ids: list[str],
        trigger: Trigger,
        timings: dict[str, float],
        *,
        resumed: bool = False,
    ) -> RetrainReport:
        lineage: dict[str, Any] = version.metadata["retraining"]
        gate = GateFigures.from_lineage(lineage["gate"])
        parent = lineage.get("parent_version")
        v = version.version
        done = {(t.event, t.stage) for t in self.registry.history(self.name) if t.to_version == v}
        started = time.perf_counter()
        outcome: DecisionOutcome
        if not gate.passed:
            outcome = "rejected"
            reason = f"challenger v{v} failed the gate: " + "; ".join(lineage["gate"]["reasons"])
            if ("rejected", None) not in done:
                self._told(
                    reject(self.registry, self.name, v, reason=reason, announce=self.announce)
                )
        else:
            figures = _figures(gate)
            production = self.registry.production_version(self.name)
            if ("promoted", "staging") not in done:
                promote(
                    self.registry,
                    self.name,
                    v,
                    stage="staging",
                    reason=figures,
                    announce=self.announce,
                )
            if ("promoted", "production") in done:
                outcome, reason = "promoted", f"challenger v{v} passed the gate ({figures})"
            elif not self.config.auto_promote:
                outcome = "trained"
                reason = (
                    f"challenger v{v} passed the gate ({figures}); staged for a person to promote"
                )
            elif production != parent:
                outcome = "trained"
                reason = (
                    f"challenger v{v} passed the gate ({figures}) but production moved from "
                    f"v{parent} to v{production} meanwhile; staged, not promoted"
                )
            else:
                outcome, reason = "promoted", f"challenger v{v} passed the gate ({figures})"
                done_ = promote(
                    self.registry,
                    self.name,
                    v,
                    stage="production",
                    reason=f"retrain: {reason}",
                    announce=self.announce,
                )
                self._told(done_.announce_problem)
        timings["promote_s"] = time.perf_counter() - started
        decision = RetrainDecision.build(
            ids,
            self.name,
            parent,
            outcome,
            reason,
            challenger_version=v,
            gate=gate,
            data=DataRange.from_lineage(lineage["data"]),
            trigger=trigger,
        )
        return RetrainReport(decision, _rounded(timings), resumed=resumed)

    def _told(self, problem: str | None) -> None:
        if problem is not None:
            get_logger(component="retrainer").warning("model_event_not_announced", error=problem)


def _figures(gate: GateFigures) -> str:
    new = gate.challenger[gate.metric]
    if gate.champion is None:
        return f"{gate.metric} {new:.3f}, no champion"
    return f"{gate.metric} {new:.3f} vs champion {gate.champion[gate.metric]:.3f}"


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in timings.items()}
