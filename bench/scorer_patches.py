"""Experimental changes to core/ and consumers/, applied only inside a bench process.

Each patch is a proposal, measured with `scoring_bench.py --patch NAME` (the scorer then
runs twice in one benchmark, as it is and patched) before anyone edits the real module.
Proposals that paid for themselves were merged and removed from here (adaptive batches,
the 10 ms transaction retry backoff, faster JSON, log fields computed once, batch size
5000: see docs/benchmarks.md). What is left was not merged:

- `fast-features`: the Pipeline's ColumnTransformer costs ~3 ms per call whatever the
  batch size (pandas column selection, validation, joblib dispatch). For the project's
  own layout (StandardScaler on the numeric features, OneHotEncoder on the categorical
  one) build the estimator's input array straight from the events and call the final
  estimator; verified against the whole Pipeline on a probe batch when first used, and
  any other model keeps the Pipeline path. Not merged: it re-implements scikit-learn.
- `position-offsets`: the offsets sent to the transaction come from one
  `consumer.position(assignment)` call instead of a Python pass over every record of the
  batch (`_next_offsets`); after `consume` the position is the last returned offset + 1.
  Not merged: about 5 %, resting on an undocumented librdkafka detail.
- `batch-timeout-10`: settings only: `scorer.batch_timeout_ms` 50 -> 10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Message

from core.settings import Settings

Patch = Callable[[Settings], Settings]
PATCHES: dict[str, Patch] = {}


def field(event: Any, name: str) -> Any:
    """A validated event's field, whether validation gave a model or a plain dict.

    (core is moving from `CustomerEvent` objects to `CustomerEventFields` dicts.)
    """
    return event.get(name) if isinstance(event, dict) else getattr(event, name)


def patch(name: str) -> Callable[[Patch], Patch]:
    def register(fn: Patch) -> Patch:
        PATCHES[name] = fn
        return fn

    return register


def parse_patches(text: str) -> list[str]:
    """`a,b` -> ["a", "b"], every name known (an argparse type)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PATCHES]
    if unknown or not names:
        raise ValueError(f"unknown patch {unknown}; known: {', '.join(sorted(PATCHES))}")
    return names


def apply(names: Sequence[str], settings: Settings) -> Settings:
    for name in names:
        settings = PATCHES[name](settings)
    return settings


@patch("fast-features")
def _fast_features(settings: Settings) -> Settings:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from consumers import scorer
    from core import serving
    from core.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    pipeline_path = serving.churn_probabilities
    compiled: dict[int, Any] = {}

    def compile_model(model: Any) -> Any:
        if not (isinstance(model, Pipeline) and len(model.steps) == 2):
            return None
        features, estimator = model.steps[0][1], model.steps[1][1]
        if not isinstance(features, ColumnTransformer):
            return None
        parts = {name: (t, cols) for name, t, cols in features.transformers_}
        numeric, categorical = parts.get("numeric"), parts.get("categorical")
        if (
            set(parts) - {"remainder"} != {"numeric", "categorical"}
            or parts.get("remainder", ("drop",))[0] != "drop"
            or numeric is None
            or categorical is None
            or not isinstance(numeric[0], StandardScaler)
            or not isinstance(categorical[0], OneHotEncoder)
            or list(numeric[1]) != list(NUMERIC_FEATURES)
            or list(categorical[1]) != list(CATEGORICAL_FEATURES)
            or categorical[0].drop_idx_ is not None
        ):
            return None
        scaler, encoder = numeric[0], categorical[0]
        mean = scaler.mean_ if scaler.with_mean else 0.0
        scale = scaler.scale_ if scaler.with_std else 1.0
        categories = np.asarray(encoder.categories_[0], dtype=object)
        classes = list(getattr(model, "classes_", [0, 1]))
        churn = classes.index(1)

        def probabilities(events: Any) -> Any:
            n = len(events)
            x = np.empty((n, len(NUMERIC_FEATURES) + len(categories)))
            for j, name in enumerate(NUMERIC_FEATURES):
                x[:, j] = np.fromiter((field(e, name) for e in events), np.float64, n)
            x[:, : len(NUMERIC_FEATURES)] -= mean
            x[:, : len(NUMERIC_FEATURES)] /= scale
            values = np.array([str(field(e, "contract_type")) for e in events], dtype=object)
            x[:, len(NUMERIC_FEATURES) :] = values[:, None] == categories[None, :]
            return np.asarray(estimator.predict_proba(x)[:, churn], dtype=np.float64)

        return probabilities

    def churn_probabilities(loaded: Any, events: Any) -> Any:
        key = id(loaded.model)
        if key not in compiled:
            fast = compile_model(loaded.model)
            if fast is not None:
                probe = list(events)
                if not np.allclose(fast(probe), pipeline_path(loaded, probe), rtol=0, atol=1e-9):
                    fast = None
            compiled[key] = fast
        fast = compiled[key]
        return fast(events) if fast is not None else pipeline_path(loaded, events)

    serving.churn_probabilities = churn_probabilities
    scorer.churn_probabilities = churn_probabilities  # type: ignore[attr-defined]
    return settings


@patch("position-offsets")
def _position_offsets(settings: Settings) -> Settings:
    from core.kafka import processor

    def _commit_transaction(self: Any, records: list[Message], outputs: Any) -> bool:
        original = processor._next_offsets

        def next_offsets(_records: Any) -> Any:
            consumer = self._consumer
            return [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]

        processor._next_offsets = next_offsets
        try:
            return bool(commit(self, records, outputs))
        finally:
            processor._next_offsets = original

    commit = processor.BatchProcessor._commit_transaction
    processor.BatchProcessor._commit_transaction = _commit_transaction  # type: ignore[method-assign]
    return settings


@patch("batch-timeout-10")
def _batch_timeout_10(settings: Settings) -> Settings:
    settings.scorer = settings.scorer.model_copy(update={"batch_timeout_ms": 10})
    return settings
