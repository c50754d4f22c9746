"""The model a scorer serves, swapped between batches without a restart.

`ModelSlot` holds the production model and checks the registry for a newer production
version when asked (between batches, never inside one), so every prediction is made by
exactly one known version. A version that fails verification is refused: the slot keeps
serving the old one and remembers the refusal so it is not retried in a tight loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import structlog

from core.errors import StreamscoreError
from core.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from core.predictor import Predictor
from core.registry import ModelRegistry, ModelVersion
from core.schemas import CustomerEventFields


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    info: ModelVersion
    threshold: float
    predictor: Predictor = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "predictor", Predictor(self.model))

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version


def feature_frame(events: Sequence[CustomerEventFields]) -> pd.DataFrame:
    """The model's input for a batch, column by column (much faster than row dicts)."""
    return pd.DataFrame(feature_columns(events))


def feature_columns(events: Sequence[CustomerEventFields]) -> dict[str, Any]:
    """One numpy array per feature: what the model and the drift windows consume."""
    n = len(events)
    columns: dict[str, Any] = {
        name: np.fromiter((e[name] for e in events), dtype=np.float64, count=n)
        for name in NUMERIC_FEATURES
    }
    for name in CATEGORICAL_FEATURES:
        columns[name] = np.array([str(e[name]) for e in events], dtype=object)
    return columns


def churn_probabilities(loaded: LoadedModel, events: Sequence[CustomerEventFields]) -> np.ndarray:
    """P(churn) for every event: one vectorized `predict_proba` for the whole batch."""
    return loaded.predictor(feature_columns(events))


class ModelSlot:
    def __init__(self, registry: ModelRegistry, name: str, poll_s: float = 5.0) -> None:
        self._registry = registry
        self._name = name
        self._poll_s = poll_s
        self._current: LoadedModel | None = None
        self._refused: set[int] = set()
        self._checked_at = float("-inf")
        self._log = structlog.get_logger("model_slot").bind(model_name=name)
        self.refusals: list[tuple[int, str]] = []
        """(version, reason) of refused versions not yet reported downstream."""

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def refresh(self, force: bool = False) -> bool:
        """Load the production version if it changed; True when a swap happened."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._poll_s:
            return False
        self._checked_at = now
        try:
            version = self._registry.production_version(self._name)
        except StreamscoreError as exc:
            self._log.error("registry_unreadable", error=exc.one_line())
            return False
        if version is None or version in self._refused:
            return False
        if self._current is not None and self._current.version == version:
            return False
        try:
            model, info = self._registry.production(self._name)
        except StreamscoreError as exc:
            self._refused.add(version)
            self.refusals.append((version, exc.one_line()))
            self._log.error(
                "model_refused",
                model_version=version,
                error_type=type(exc).__name__,
                error=exc.one_line(),
                serving_version=self._current.version if self._current else None,
            )
            return False
        previous = self._current.version if self._current else None
        threshold = float(info.metadata.get("threshold", 0.5))
        self._current = LoadedModel(model=model, info=info, threshold=threshold)
        self._log.info("model_loaded", model_version=info.version, previous_version=previous)
        return True
