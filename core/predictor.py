"""P(churn) for a batch, without paying the Pipeline's per-call overhead.

A fitted `Pipeline(ColumnTransformer, estimator)` spends about 5 ms per `predict_proba`
call on orchestration (DataFrame column selection, validation, metadata routing) however
few rows the batch has; the fitted transformers themselves take a fraction of a
millisecond on numpy columns. At 5,000 events/s that fixed cost is a large share of the
scorer's latency. So for that layout the predictor calls the pipeline's own fitted
transformers and estimator directly, in the ColumnTransformer's order; nothing is
re-implemented. It checks the direct path against the whole Pipeline on the first batch
and keeps the Pipeline for any model of another shape, or if the two ever disagree.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import structlog
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

Columns = dict[str, npt.NDArray[Any]]
Direct = Callable[[Columns], npt.NDArray[np.float64]]


class Predictor:
    """Calls `predict_proba` for the positive class on feature columns.

    >>> import numpy as np, pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": ["x", "y", "x", "y"]})
    >>> model = Pipeline([("f", ColumnTransformer([("n", StandardScaler(), ["a"]),
    ...     ("k", OneHotEncoder(), ["c"])])), ("m", LogisticRegression())]).fit(x, [0, 1, 0, 1])
    >>> predict = Predictor(model)
    >>> columns = {"a": np.array([1.5, 3.5]), "c": np.array(["x", "y"], dtype=object)}
    >>> bool(np.allclose(predict(columns), model.predict_proba(pd.DataFrame(columns))[:, 1]))
    True
    >>> predict.direct
    True
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        classes = list(getattr(model, "classes_", [0, 1]))
        self._positive = classes.index(1)
        self._direct = _direct_path(model, self._positive)
        self._checked = False

    @property
    def direct(self) -> bool:
        """True while the direct path is in use."""
        return self._direct is not None

    def __call__(self, columns: Columns) -> npt.NDArray[np.float64]:
        if self._direct is None:
            return self._pipeline(columns)
        if self._checked:
            return self._direct(columns)
        slow = self._pipeline(columns)
        self._checked = True
        try:
            fast = self._direct(columns)
            if np.allclose(fast, slow, rtol=0, atol=1e-12):
                return fast
            reason = "differs from the Pipeline on the first batch"
        except Exception as exc:  # any failure only means: keep the Pipeline path
            reason = f"{type(exc).__name__}: {exc}"
        structlog.get_logger("predictor").warning("direct_path_disabled", reason=reason)
        self._direct = None
        return slow

    def _pipeline(self, columns: Columns) -> npt.NDArray[np.float64]:
        proba = self._model.predict_proba(pd.DataFrame(columns))
        return np.asarray(proba[:, self._positive], dtype=np.float64)


def _direct_path(model: Any, positive: int) -> Direct | None:
    if not (isinstance(model, Pipeline) and len(model.steps) == 2):
        return None
    features, estimator = model.steps[0][1], model.steps[1][1]
    if not isinstance(features, ColumnTransformer) or getattr(features, "sparse_output_", True):
        return None
    parts: list[tuple[Any, list[str]]] = []
    for name, transformer, cols in features.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if name == "remainder" or not all(isinstance(c, str) for c in cols):
            return None
        parts.append((None if transformer == "passthrough" else transformer, list(cols)))

    def direct(columns: Columns) -> npt.NDArray[np.float64]:
        with warnings.catch_warnings():
            # The transformers were fitted on a DataFrame; numpy columns in the same order
            # are what the ColumnTransformer itself hands them.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            blocks = []
            for transformer, cols in parts:
                x = np.column_stack([columns[c] for c in cols])
                block: Any = x if transformer is None else transformer.transform(x)
                blocks.append(block.toarray() if sparse.issparse(block) else block)
            proba = estimator.predict_proba(np.hstack(blocks).astype(np.float64))
        return np.asarray(proba[:, positive], dtype=np.float64)

    return direct
