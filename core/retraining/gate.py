"""Champion against challenger on the same holdout: promote only what is not worse.

Both models score the same holdout rows. The challenger passes when

1. it reaches an absolute floor on the gate metric (default ROC AUC 0.70): a model that
   is no worse than a broken champion is still broken; and
2. it is **non-inferior** to the champion: the one-sided lower confidence bound of its
   advantage (challenger minus champion, signed so that positive is better: for
   log loss and Brier, champion minus challenger) is above `-margin`.

The test is a **paired bootstrap**: each resample draws holdout rows with replacement
once and scores both models on those same rows, so the large row-to-row variance that
both models share cancels out of the difference, and only their disagreement is left.
Chosen over DeLong's test because it works unchanged for every gate metric (DeLong is
for AUC only; accuracy, F1, log loss and Brier would need other tests), its interval is
read straight off the resampled differences without a normal approximation, and it is
seeded, so a verdict is reproducible from its data. Resamples are drawn as row weights
(how often each row was drawn) and every metric is computed from weighted sums, AUC via
one sort per model and a cumulative sum of negative weights (ties counted one half), so
1000 resamples of 20,000 rows take well under a second.

The reported interval is the two-sided `2·confidence − 1` percentile interval (90 % for
the default 0.95), whose lower end is the one-sided bound the decision uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

from core.features import FEATURES, TARGET
from core.retraining.config import GateMetric, RetrainConfig
from core.retraining.exceptions import GateError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

HIGHER_IS_BETTER: Final[dict[str, bool]] = {
    "roc_auc": True,
    "accuracy": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
}
THRESHOLD: Final = 0.5
"""Decision threshold of accuracy and F1: what the scorer's `prediction` uses."""
_CHUNK_CELLS: Final = 4_000_000
"""Resample weights are built this many cells (resamples × rows) at a time: ~32 MB."""


@dataclass(frozen=True)
class GateSpec:
    metric: GateMetric = "roc_auc"
    floor: float = 0.70
    margin: float = 0.01
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0

    @classmethod
    def from_config(cls, config: RetrainConfig) -> GateSpec:
        return cls(
            metric=config.gate_metric,
            floor=config.gate_floor,
            margin=config.gate_margin,
            confidence=config.gate_confidence,
            resamples=config.bootstrap_resamples,
            seed=config.seed,
        )


@dataclass(frozen=True)
class GateVerdict:
    """Both models' holdout figures, the paired difference and the decision's reasons."""

    passed: bool
    metric: str
    floor: float
    margin: float
    confidence: float
    challenger: dict[str, float]
    champion: dict[str, float] | None
    """None when there was no champion: the floor alone decides."""
    difference: float | None
    """Challenger's advantage on `metric` (positive: better), on the whole holdout."""
    interval: tuple[float, float] | None
    """Percentile interval of the advantage; its lower end is the one-sided bound."""
    resamples: int
    seed: int
    holdout_rows: int
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "metric": self.metric,
            "floor": self.floor,
            "margin": self.margin,
            "confidence": self.confidence,
            "challenger": self.challenger,
            "champion": self.champion,
            "difference": self.difference,
            "interval": list(self.interval) if self.interval is not None else None,
            "resamples": self.resamples,
            "seed": self.seed,
            "holdout_rows": self.holdout_rows,
            "reasons": list(self.reasons),
        }


def holdout_metrics(y: Any, probability: Any) -> dict[str, float]:
    """The five gate figures of one model on one holdout."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    predicted = (p >= THRESHOLD).astype(np.int64)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }


def gate(
    challenger: Any, champion: Any | None, holdout: pd.DataFrame, spec: GateSpec
) -> GateVerdict:
    """Score both fitted models (anything with `predict_proba`) on `holdout` and judge."""
    x = holdout[list(FEATURES)]
    return compare(
        holdout[TARGET].to_numpy(),
        _churn_probability(challenger, x),
        None if champion is None else _churn_probability(champion, x),
        spec,
    )


def compare(
    y: Any, challenger: Any, champion: Any | None, spec: GateSpec = GateSpec()
) -> GateVerdict:
    """The verdict from the holdout labels and both models' churn probabilities."""
    if spec.metric not in HIGHER_IS_BETTER:
        raise GateError(f"unknown gate metric {spec.metric!r}")
    labels = np.asarray(y, dtype=np.int64)
    p_new = np.asarray(challenger, dtype=np.float64)
    p_old = None if champion is None else np.asarray(champion, dtype=np.float64)
    if p_new.shape != labels.shape or (p_old is not None and p_old.shape != labels.shape):
        raise GateError("labels and probabilities must be one value per holdout row")
    if len(np.unique(labels)) < 2:
        raise GateError("the holdout has one class only: no AUC, no comparison")
    metric, higher = spec.metric, HIGHER_IS_BETTER[spec.metric]
    new = holdout_metrics(labels, p_new)
    reasons: list[str] = []
    reaches = new[metric] >= spec.floor if higher else new[metric] <= spec.floor
    side = "at least" if higher else "at most"
    reasons.append(
        f"{metric} {new[metric]:.4f} {'meets' if reaches else 'misses'} the floor "
        f"({side} {spec.floor:.4f})"
    )
    if p_old is None:
        reasons.append("no champion: the floor alone decides")
        return GateVerdict(
            reaches, metric, spec.floor, spec.margin, spec.confidence, new, None, None, None,
            spec.resamples, spec.seed, len(labels), tuple(reasons),
        )  # fmt: skip

    old = holdout_metrics(labels, p_old)
    sign = 1.0 if higher else -1.0
    scores = paired_bootstrap(labels, p_new, p_old, metric, spec.resamples, spec.seed)
    advantage = sign * (scores[0] - scores[1])
    tail = 1.0 - spec.confidence
    low, high = (float(v) for v in np.nanquantile(advantage, [tail, 1.0 - tail]))
    difference = sign * (new[metric] - old[metric])
    non_inferior = low > -spec.margin
    reasons.append(
        f"advantage over the champion {difference:+.4f}, {spec.confidence:.0%} lower bound "
        f"{low:+.4f} {'>' if non_inferior else '<='} -{spec.margin:.4f}: "
        + ("not worse than the champion" if non_inferior else "possibly worse than the champion")
    )
    return GateVerdict(
        reaches and non_inferior, metric, spec.floor, spec.margin, spec.confidence, new, old,
        difference, (low, high), spec.resamples, spec.seed, len(labels), tuple(reasons),
    )  # fmt: skip


def paired_bootstrap(
    y: Any, p_a: Any, p_b: Any, metric: str, resamples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """`metric` of both models on the same `resamples` bootstrap draws of the rows.

    >>> y = np.array([0, 0, 1, 1, 0, 1]); p = np.array([.1, .4, .35, .8, .2, .9])
    >>> a, b = paired_bootstrap(y, p, p, "roc_auc", 200, seed=1)
    >>> bool(np.allclose(a, b, equal_nan=True)), a.shape
    (True, (200,))
    """
    labels = np.asarray(y, dtype=np.int64)
    score = _WEIGHTED[metric]
    n = len(labels)
    rng = np.random.default_rng(seed)
    out_a, out_b = np.empty(resamples), np.empty(resamples)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        # int32 weights halve the memory traffic of AUC's gather and cumulative sum;
        # a row's weights sum to n, so every count and running sum fits.
        draws = rng.integers(0, n, size=(b, n), dtype=np.int32) + (np.arange(b) * n)[:, None]
        weights = np.bincount(draws.ravel(), minlength=b * n).astype(np.int32).reshape(b, n)
        out_a[start : start + b] = score(labels, np.asarray(p_a, dtype=np.float64), weights)
        out_b[start : start + b] = score(labels, np.asarray(p_b, dtype=np.float64), weights)
    return out_a, out_b


def _weighted_auc(y: npt.NDArray[np.int64], p: FloatArray, w: IntArray) -> FloatArray:
    """Mann-Whitney AUC per row of weights; tied scores count one half, as in sklearn.

    After one sort by score, `below[:, j]` is the weight of negatives among the first
    `j` rows. A positive in the group of tied scores spanning rows `s..e` beats the
    negatives before `s` and ties those within, so it scores the mean of `below[:, s]`
    and `below[:, e + 1]`; no per-resample sort or group sum is needed.
    """
    n = len(p)
    order = np.argsort(p, kind="stable")
    ps, ys = p[order], y[order]
    ws = w[:, order]
    rows = np.arange(n)
    starts = np.maximum.accumulate(np.where(np.r_[True, ps[1:] != ps[:-1]], rows, 0))
    last = np.r_[ps[1:] != ps[:-1], True]
    ends = np.minimum.accumulate(np.where(last, rows, n - 1)[::-1])[::-1]
    below = np.zeros((w.shape[0], n + 1), dtype=np.int32)
    np.cumsum(ws * (ys == 0).astype(np.int32), axis=1, out=below[:, 1:])
    positives = np.flatnonzero(ys == 1)
    credit = 0.5 * (below[:, starts[positives]] + below[:, ends[positives] + 1])
    wp = ws[:, positives].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: FloatArray = np.einsum("ij,ij->i", wp, credit) / (wp.sum(axis=1) * below[:, -1])
    return auc


def _weighted_accuracy(y: npt.NDArray[np.int64], p: FloatArray, w: IntArray) -> FloatArray:
    correct = ((p >= THRESHOLD).astype(np.int64) == y).astype(np.float64)
    result: FloatArray = (w @ correct) / w.sum(axis=1)
    return result


def _weighted_f1(y: npt.NDArray[np.int64], p: FloatArray, w: IntArray) -> FloatArray:
    predicted = p >= THRESHOLD
    actual = y == 1
    tp = w @ (predicted & actual).astype(np.float64)
    fp = w @ (predicted & ~actual).astype(np.float64)
    fn = w @ (~predicted & actual).astype(np.float64)
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(denominator > 0, 2 * tp / denominator, 0.0)
    return result


def _weighted_log_loss(y: npt.NDArray[np.int64], p: FloatArray, w: IntArray) -> FloatArray:
    eps = np.finfo(np.float64).eps
    q = np.clip(p, eps, 1 - eps)
    losses = -(y * np.log(q) + (1 - y) * np.log1p(-q))
    result: FloatArray = (w @ losses) / w.sum(axis=1)
    return result


def _weighted_brier(y: npt.NDArray[np.int64], p: FloatArray, w: IntArray) -> FloatArray:
    result: FloatArray = (w @ (p - y) ** 2) / w.sum(axis=1)
    return result


_WEIGHTED: Final[dict[str, Callable[[npt.NDArray[np.int64], FloatArray, IntArray], FloatArray]]] = {
    "roc_auc": _weighted_auc,
    "accuracy": _weighted_accuracy,
    "f1": _weighted_f1,
    "log_loss": _weighted_log_loss,
    "brier": _weighted_brier,
}


def _churn_probability(model: Any, x: pd.DataFrame) -> FloatArray:
    probability: FloatArray = np.asarray(model.predict_proba(x), dtype=np.float64)[:, 1]
    return probability
