"""The input contract of a model: feature names, types and allowed categories.

Recorded with every version so a scorer or the drift watcher can check events against
what the model was trained on. Training code passes an explicit schema built from its
data; when it does not, the schema is read off the fitted estimator itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def schema_from_frame(
    df: Any, numeric: tuple[str, ...], categorical: tuple[str, ...]
) -> dict[str, Any]:
    """Schema of the columns a model is trained on, categories as seen in the data."""
    features: list[dict[str, Any]] = [
        {"name": name, "type": "numeric", "dtype": str(df[name].dtype)} for name in numeric
    ]
    for name in categorical:
        categories = sorted(str(v) for v in df[name].dropna().unique())
        features.append({"name": name, "type": "categorical", "categories": categories})
    return {"features": features}


def schema_from_model(model: Any) -> dict[str, Any]:
    """Best effort from a fitted estimator: names from `feature_names_in_`, categories
    from any OneHotEncoder inside a ColumnTransformer, everything else numeric."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return {"features": []}
    categories = _encoder_categories(model)
    features: list[dict[str, Any]] = []
    for name in (str(n) for n in names):
        if name in categories:
            features.append({"name": name, "type": "categorical", "categories": categories[name]})
        else:
            features.append({"name": name, "type": "numeric"})
    return {"features": features}


def _encoder_categories(model: Any) -> dict[str, list[str]]:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    found: dict[str, list[str]] = {}
    steps = getattr(model, "steps", [])
    for _, step in steps:
        if not isinstance(step, ColumnTransformer):
            continue
        for _, transformer, columns in getattr(step, "transformers_", []):
            if not isinstance(transformer, OneHotEncoder) or isinstance(columns, str):
                continue
            for column, cats in zip(columns, transformer.categories_, strict=False):
                found[str(column)] = [str(c) for c in np.asarray(cats).tolist()]
    return found
