"""One retraining: labelled rows → time split → fitted challenger → gate verdict.

The challenger is fitted on the training split only and the very model the gate judged
is the one registered: refitting on all rows after the gate would promote a model no
one has measured. Its reference profile (the drift watcher's baseline once promoted)
comes from its own training rows, and its registry metadata carries the lineage:
parent version, the alert ids it answers, the data's time range and offsets, and the
gate's figures, so `streamscore registry show` explains why the version exists.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.drift.profile import ReferenceProfile
from core.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET
from core.registry import ModelRegistry, ModelVersion
from core.registry.feature_schema import schema_from_frame
from core.retraining.config import RetrainConfig
from core.retraining.dataset import DataLineage, LabelledDataset
from core.retraining.gate import THRESHOLD, GateSpec, GateVerdict, gate
from core.retraining.split import time_split
from core.training import TrainingResult, build_pipeline

DEFAULT_TRIGGER = "retrain"


@dataclass(frozen=True)
class RetrainResult:
    """A fitted challenger, its verdict and what the registry should record about it."""

    training: TrainingResult
    """The challenger Pipeline with its holdout metrics, summary, schema and profile."""
    verdict: GateVerdict
    lineage: DataLineage
    parent_version: int | None
    alert_ids: tuple[str, ...]
    metadata: dict[str, Any]
    """Registry metadata: serving threshold, model kind and `retraining` lineage."""
    timings: dict[str, float]
    """Seconds spent splitting, fitting, gating and profiling."""

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def register(
        self, registry: ModelRegistry, name: str, *, trigger: str = DEFAULT_TRIGGER
    ) -> ModelVersion:
        """Register the challenger with its lineage; promotion is the caller's decision."""
        return self.training.register(
            registry, name, self.metadata, trigger=trigger, parent_version=self.parent_version
        )


def answered_alert_ids(versions: Iterable[ModelVersion]) -> set[str]:
    """Alert ids that registered versions answer, from their `retraining` lineage: what
    the policy's `decided` lookup starts from (e.g. `registry.versions(name)`). Rejected
    challengers are never registered, so their alerts are found in the decision records.
    """
    answered: set[str] = set()
    for version in versions:
        lineage = version.metadata.get("retraining")
        if isinstance(lineage, dict):
            answered.update(str(a) for a in lineage.get("alert_ids", ()))
    return answered


def train_challenger(
    dataset: LabelledDataset,
    champion: Any | None,
    config: RetrainConfig,
    *,
    parent_version: int | None,
    alert_ids: Sequence[str],
) -> RetrainResult:
    """Fit a challenger on `dataset` and gate it against `champion` (a fitted model, or
    None when nothing serves). Raises `NotEnoughLabelledData` when a split side lacks a
    class."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    split = time_split(dataset.frame, config.holdout_share, min_class_rows=config.min_class_rows)
    x_train, y_train = split.train[list(FEATURES)], split.train[TARGET].astype(int)
    timings["split_s"] = time.perf_counter() - started

    started = time.perf_counter()
    pipeline = build_pipeline(config.model_kind, config.seed)
    pipeline.fit(x_train, y_train)
    timings["fit_s"] = time.perf_counter() - started

    started = time.perf_counter()
    verdict = gate(pipeline, champion, split.holdout, GateSpec.from_config(config))
    timings["gate_s"] = time.perf_counter() - started

    started = time.perf_counter()
    profile = ReferenceProfile.from_frame(
        x_train, numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES
    )
    timings["profile_s"] = time.perf_counter() - started

    summary: dict[str, Any] = {
        "rows": len(dataset.frame),
        "train_rows": len(split.train),
        "test_rows": len(split.holdout),
        "test_size": config.holdout_share,
        "split": "event-time",
        "seed": config.seed,
        "model_kind": config.model_kind,
        "churn_rate": round(float(dataset.frame[TARGET].mean()), 6),
        "categories": {
            c: {str(k): int(v) for k, v in x_train[c].value_counts().sort_index().items()}
            for c in CATEGORICAL_FEATURES
        },
        "fit_seconds": round(timings["fit_s"], 4),
    }
    ids = tuple(alert_ids)
    metadata: dict[str, Any] = {
        "threshold": THRESHOLD,
        "model_kind": config.model_kind,
        "retraining": {
            "parent_version": parent_version,
            "alert_ids": list(ids),
            "data": dataset.lineage.to_dict(),
            "split": split.to_dict(),
            "gate": verdict.to_dict(),
        },
    }
    training = TrainingResult(
        model=pipeline,
        metrics=dict(verdict.challenger),
        summary=summary,
        feature_schema=schema_from_frame(x_train, NUMERIC_FEATURES, CATEGORICAL_FEATURES),
        reference_profile=profile.to_dict(),
    )
    return RetrainResult(
        training=training,
        verdict=verdict,
        lineage=dataset.lineage,
        parent_version=parent_version,
        alert_ids=ids,
        metadata=metadata,
        timings={k: round(v, 4) for k, v in timings.items()},
    )
