"""Bounded, mergeable accumulators of a model's quality over labelled predictions.

A window never keeps its pairs. It keeps, per class, a histogram of the predicted
probability on ``score_bins`` equal-width bins (1,000 by default) and a handful of
sums, so its state is the same size for a hundred labelled predictions or a million:
about 16 kB in memory, a few kB serialized.

Exactness, figure by figure:

* accuracy, positive rate, predicted rate and coverage are counts: exact.
* log loss, Brier score and the calibration table's mean predicted probability are
  sums kept in fixed point (``2**-32`` per event, rounded), so merging is integer
  addition: exact and order-independent, and a merged state is bit-for-bit the state of
  one process that saw everything. Each event's term is off by at most ``2**-33``, so
  the means differ from sklearn's by less than 1.2e-10.
* ROC AUC is computed on the histogram, counting a positive and a negative in the same
  bin as a tie (credit 1/2, as sklearn does for equal scores). Only those same-bin pairs
  can be wrong, so ``|AUC - exact AUC| <= auc_error_bound() = (1/2) Σ_b pos_b·neg_b / (P·N)``,
  reported with every window. For a churn model over a thousand bins the bound is
  about 5e-4; tests hold the histogram AUC within it and within 1e-3 of sklearn.
* the AUC's variance is DeLong's, computed exactly from the same histogram (every
  score in a bin is the same value, so the structural components are per bin).

The log loss clips probabilities to ``[eps, 1 - eps]`` with eps the float64 machine
epsilon, as sklearn's ``log_loss`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import StreamscoreError
from core.packing import pack, unpack

FIXED_POINT = 2**32
"""Scale of the fixed-point sums: one unit is 2**-32 of a loss or probability."""

_EPS = float(np.finfo(np.float64).eps)


class MetricStateError(StreamscoreError):
    """Metric states cannot be merged or restored."""

    hint = "merge only states built with the same score_bins and calibration_bins"


class MetricState:
    """One window's labelled predictions, summarised; ``update`` returns self.

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> p = rng.random(2_000)
    >>> y = (rng.random(2_000) < p).astype(int)
    >>> left = MetricState().update(p[:500], (p[:500] >= 0.5).astype(int), y[:500])
    >>> right = MetricState().update(p[500:], (p[500:] >= 0.5).astype(int), y[500:])
    >>> whole = left.merge(right).add_predictions(2_500)
    >>> whole.labelled, whole.predictions, round(whole.coverage(), 2)
    (2000, 2500, 0.8)
    >>> round(whole.accuracy(), 4), round(whole.roc_auc(), 3), whole.auc_error_bound() < 1e-3
    (0.7575, 0.84, True)
    >>> MetricState.from_bytes(whole.to_bytes()).to_dict() == whole.to_dict()
    True
    """

    def __init__(self, score_bins: int = 1000, calibration_bins: int = 10) -> None:
        if score_bins < 2 or calibration_bins < 1 or score_bins % calibration_bins:
            raise MetricStateError(
                f"score_bins ({score_bins}) must be >= 2 and a multiple of "
                f"calibration_bins ({calibration_bins})"
            )
        self.score_bins = score_bins
        self.calibration_bins = calibration_bins
        self._reset()

    def _reset(self) -> None:
        self.positives = np.zeros(self.score_bins, dtype=np.int64)
        """Labelled-positive predictions per probability bin."""
        self.negatives = np.zeros(self.score_bins, dtype=np.int64)
        self.predictions = 0
        """Every prediction of the window, labelled or not (the coverage denominator)."""
        self.correct = 0
        """Labelled predictions whose own 0/1 prediction matched the label."""
        self.predicted_positive = 0
        """Labelled predictions with prediction 1."""
        self.log_loss_fx = 0
        self.brier_fx = 0
        self.probability_fx = np.zeros(self.calibration_bins, dtype=np.int64)
        """Sum of predicted probabilities per calibration bin, fixed point."""

    # ------------------------------------------------------------------ updating

    def update(
        self, probability: npt.ArrayLike, prediction: npt.ArrayLike, label: npt.ArrayLike
    ) -> MetricState:
        """Add labelled predictions: probabilities of class 1, the 0/1 predictions the
        model published (at its own threshold) and the observed 0/1 labels."""
        p = np.asarray(probability, dtype=np.float64).ravel()
        pred = np.asarray(prediction).astype(np.int64).ravel()
        y = np.asarray(label).astype(np.int64).ravel()
        if not (p.size == pred.size == y.size):
            raise MetricStateError("probability, prediction and label differ in length")
        if p.size == 0:
            return self
        if not np.all((p >= 0) & (p <= 1)):
            raise MetricStateError("probabilities must lie in [0, 1]")
        positive = y == 1
        bins = np.minimum((p * self.score_bins).astype(np.int64), self.score_bins - 1)
        self.positives += np.bincount(bins[positive], minlength=self.score_bins)
        self.negatives += np.bincount(bins[~positive], minlength=self.score_bins)
        self.correct += int(np.count_nonzero(pred == y))
        self.predicted_positive += int(np.count_nonzero(pred == 1))
        clipped = np.clip(p, _EPS, 1 - _EPS)
        loss = -np.where(positive, np.log(clipped), np.log1p(-clipped))
        self.log_loss_fx += _fixed_sum(loss)
        self.brier_fx += _fixed_sum((p - y) ** 2)
        per_calibration = self.score_bins // self.calibration_bins
        self.probability_fx += _fixed_bincount(bins // per_calibration, p, self.calibration_bins)
        return self

    def add_predictions(self, count: int) -> MetricState:
        """Count predictions of the window, labelled or not (for the label coverage)."""
        if count < 0:
            raise MetricStateError("a prediction count cannot be negative")
        self.predictions += int(count)
        return self

    def merge(self, other: MetricState) -> MetricState:
        """A new state holding both: exact, whatever the split or order."""
        if (other.score_bins, other.calibration_bins) != (
            self.score_bins,
            self.calibration_bins,
        ):
            raise MetricStateError("cannot merge states with different bins")
        merged = MetricState(self.score_bins, self.calibration_bins)
        merged.positives = self.positives + other.positives
        merged.negatives = self.negatives + other.negatives
        merged.predictions = self.predictions + other.predictions
        merged.correct = self.correct + other.correct
        merged.predicted_positive = self.predicted_positive + other.predicted_positive
        merged.log_loss_fx = self.log_loss_fx + other.log_loss_fx
        merged.brier_fx = self.brier_fx + other.brier_fx
        merged.probability_fx = self.probability_fx + other.probability_fx
        return merged

    # ------------------------------------------------------------------ figures

    @property
    def labelled(self) -> int:
        return int(self.positives.sum() + self.negatives.sum())

    @property
    def labelled_positive(self) -> int:
        return int(self.positives.sum())

    def accuracy(self) -> float | None:
        n = self.labelled
        return self.correct / n if n else None

    def log_loss(self) -> float | None:
        n = self.labelled
        return self.log_loss_fx / FIXED_POINT / n if n else None

    def brier(self) -> float | None:
        n = self.labelled
        return self.brier_fx / FIXED_POINT / n if n else None

    def positive_rate(self) -> float | None:
        """Share of labelled predictions whose label is 1 (the observed churn rate)."""
        n = self.labelled
        return self.labelled_positive / n if n else None

    def predicted_rate(self) -> float | None:
        """Share of labelled predictions the model called 1: compare with positive_rate."""
        n = self.labelled
        return self.predicted_positive / n if n else None

    def mean_probability(self) -> float | None:
        n = self.labelled
        return int(self.probability_fx.sum()) / FIXED_POINT / n if n else None

    def coverage(self) -> float | None:
        """Labelled share of the window's predictions (None before any was counted)."""
        if not self.predictions:
            return None
        return min(self.labelled / self.predictions, 1.0)

    def _auc_parts(self) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
        """AUC and, per bin, each positive's and each negative's DeLong component."""
        n_pos, n_neg = self.labelled_positive, int(self.negatives.sum())
        if n_pos == 0 or n_neg == 0:
            return None
        pos = self.positives.astype(np.float64)
        neg = self.negatives.astype(np.float64)
        neg_below = np.cumsum(neg) - neg
        pos_above = pos.sum() - np.cumsum(pos)
        v10 = (neg_below + 0.5 * neg) / n_neg
        v01 = (pos_above + 0.5 * pos) / n_pos
        auc = float(np.dot(pos, v10) / n_pos)
        return auc, v10, v01

    def roc_auc(self) -> float | None:
        """ROC AUC from the histogram (None unless both classes are present)."""
        parts = self._auc_parts()
        return None if parts is None else parts[0]

    def auc_error_bound(self) -> float | None:
        """Largest possible difference between `roc_auc()` and the AUC of the raw scores."""
        n_pos, n_neg = self.labelled_positive, int(self.negatives.sum())
        if n_pos == 0 or n_neg == 0:
            return None
        same_bin = float(np.dot(self.positives.astype(np.float64), self.negatives))
        return 0.5 * same_bin / (n_pos * n_neg)

    def auc_variance(self) -> float | None:
        """DeLong's variance of the AUC: S10/P + S01/N, from the per-bin components."""
        parts = self._auc_parts()
        n_pos, n_neg = self.labelled_positive, int(self.negatives.sum())
        if parts is None or n_pos < 2 or n_neg < 2:
            return None
        auc, v10, v01 = parts
        s10 = float(np.dot(self.positives, (v10 - auc) ** 2)) / (n_pos - 1)
        s01 = float(np.dot(self.negatives, (v01 - auc) ** 2)) / (n_neg - 1)
        return s10 / n_pos + s01 / n_neg

    def calibration(self) -> list[dict[str, Any]]:
        """Per probability bin (equal width): count, mean predicted, observed rate."""
        per = self.score_bins // self.calibration_bins
        pos = self.positives.reshape(self.calibration_bins, per).sum(axis=1)
        neg = self.negatives.reshape(self.calibration_bins, per).sum(axis=1)
        rows = []
        for i in range(self.calibration_bins):
            count = int(pos[i] + neg[i])
            rows.append(
                {
                    "lower": i / self.calibration_bins,
                    "upper": (i + 1) / self.calibration_bins,
                    "count": count,
                    "mean_predicted": (
                        int(self.probability_fx[i]) / FIXED_POINT / count if count else None
                    ),
                    "observed_rate": int(pos[i]) / count if count else None,
                }
            )
        return rows

    def figures(self) -> dict[str, float | None]:
        """Every headline figure by name (None where undefined), for records and logs."""
        return {
            "roc_auc": self.roc_auc(),
            "roc_auc_error_bound": self.auc_error_bound(),
            "accuracy": self.accuracy(),
            "log_loss": self.log_loss(),
            "brier": self.brier(),
            "positive_rate": self.positive_rate(),
            "predicted_rate": self.predicted_rate(),
            "mean_probability": self.mean_probability(),
            "coverage": self.coverage(),
        }

    # ------------------------------------------------------------------ checkpoints

    def to_dict(self) -> dict[str, Any]:
        return {
            "score_bins": self.score_bins,
            "calibration_bins": self.calibration_bins,
            "positives": _sparse(self.positives),
            "negatives": _sparse(self.negatives),
            "predictions": self.predictions,
            "correct": self.correct,
            "predicted_positive": self.predicted_positive,
            "log_loss_fx": self.log_loss_fx,
            "brier_fx": self.brier_fx,
            "probability_fx": self.probability_fx.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricState:
        try:
            state = cls(int(d["score_bins"]), int(d["calibration_bins"]))
            state.positives = _dense(d["positives"], state.score_bins)
            state.negatives = _dense(d["negatives"], state.score_bins)
            state.predictions = int(d["predictions"])
            state.correct = int(d["correct"])
            state.predicted_positive = int(d["predicted_positive"])
            state.log_loss_fx = int(d["log_loss_fx"])
            state.brier_fx = int(d["brier_fx"])
            state.probability_fx = np.asarray(d["probability_fx"], dtype=np.int64)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MetricStateError(f"metric state is unreadable: {exc!r}") from None
        if state.probability_fx.shape != (state.calibration_bins,):
            raise MetricStateError("metric state has the wrong number of calibration bins")
        return state

    _ARRAYS = ("positives", "negatives", "probability_fx")

    def scalars(self) -> dict[str, Any]:
        """`to_dict` without its arrays, which `PerformanceWindows` packs as columns of
        every state at once (a thousand-bin histogram as JSON text cost more than the
        batch that filled it)."""
        return {
            "score_bins": self.score_bins,
            "calibration_bins": self.calibration_bins,
            "predictions": self.predictions,
            "correct": self.correct,
            "predicted_positive": self.predicted_positive,
            "log_loss_fx": self.log_loss_fx,
            "brier_fx": self.brier_fx,
        }

    @classmethod
    def from_parts(
        cls,
        scalars: Mapping[str, Any],
        positives: npt.NDArray[np.int64],
        negatives: npt.NDArray[np.int64],
        probability_fx: npt.NDArray[np.int64],
    ) -> MetricState:
        """The inverse of `scalars` with the three arrays."""
        try:
            state = cls(int(scalars["score_bins"]), int(scalars["calibration_bins"]))
            state.predictions = int(scalars["predictions"])
            state.correct = int(scalars["correct"])
            state.predicted_positive = int(scalars["predicted_positive"])
            state.log_loss_fx = int(scalars["log_loss_fx"])
            state.brier_fx = int(scalars["brier_fx"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MetricStateError(f"metric state is unreadable: {exc!r}") from None
        if positives.shape != negatives.shape or positives.shape != (state.score_bins,):
            raise MetricStateError("metric state has the wrong number of score bins")
        if probability_fx.shape != (state.calibration_bins,):
            raise MetricStateError("metric state has the wrong number of calibration bins")
        state.positives = positives.astype(np.int64)
        state.negatives = negatives.astype(np.int64)
        state.probability_fx = probability_fx.astype(np.int64)
        return state

    def to_bytes(self) -> bytes:
        return pack(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> MetricState:
        return cls.from_dict(unpack(data, MetricStateError, "metric state"))


def _fixed_sum(values: npt.NDArray[np.float64]) -> int:
    """Sum in fixed point: each term rounded to 2**-32 first, so addition is exact."""
    return int(np.rint(values * FIXED_POINT).astype(np.int64).sum())


def _fixed_bincount(
    bins: npt.NDArray[np.int64], values: npt.NDArray[np.float64], size: int
) -> npt.NDArray[np.int64]:
    fixed = np.rint(values * FIXED_POINT).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, bins, fixed)
    return out


def _sparse(counts: npt.NDArray[np.int64]) -> list[list[int]]:
    """Non-zero bins as [index, count]: most bins are empty in small windows."""
    nonzero = np.flatnonzero(counts)
    pairs: list[list[int]] = np.stack([nonzero, counts[nonzero]], axis=1).tolist()
    return pairs


def _dense(pairs: Any, size: int) -> npt.NDArray[np.int64]:
    out = np.zeros(size, dtype=np.int64)
    for index, count in pairs:
        out[int(index)] = int(count)
    return out
