"""Judging one window: is the model's live quality confidently below its threshold?

The threshold is the higher of the absolute ``floor`` and the version's holdout figure
minus ``margin`` (the floor alone when the registry has no holdout figure): a window
fails when its quality is below what is acceptable at all *or* has fallen from what the
version was promoted with. So the floor must be one a healthy model reaches: on the
generated churn data a calibrated model's accuracy is 0.794, and an accuracy floor of
0.80 would be failed by healthy windows (see `core.performance.config`).

A window fails only when the whole interval for its metric (Wilson for accuracy,
DeLong on the logit scale for roc_auc, at ``confidence``) lies below the threshold, so
a model whose true quality is at the threshold fails a window with probability about
``(1 - confidence) / 2``, whatever the window's size. Windows below ``min_labels``, and
roc_auc windows with fewer than ``MIN_CLASS_LABELS`` of either class, are not judged
and the verdict says why; they never fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.performance.config import JudgedMetric, PerformanceConfig
from core.performance.intervals import auc_interval, wilson
from core.performance.metrics import MetricState

MIN_CLASS_LABELS = 10
"""Fewest labels of each class for an AUC verdict (DeLong's variance is unusable below)."""


@dataclass(frozen=True)
class Verdict:
    """What the detector made of one window."""

    judged: bool
    reason: str
    metric: JudgedMetric
    threshold: float
    labelled: int
    value: float | None = None
    interval: tuple[float, float] | None = None
    baseline: float | None = None
    failing: bool = False
    """The whole interval lies below the threshold."""


class PerformanceDetector:
    """Judges windows of one model version; ``update`` returns self.

    >>> import numpy as np
    >>> from core.performance.metrics import MetricState
    >>> rng = np.random.default_rng(5)
    >>> p = rng.random(1_000)
    >>> healthy = (rng.random(1_000) < p).astype(int)
    >>> detector = PerformanceDetector(metric="roc_auc", floor=0.7, baseline=0.83)
    >>> detector.update(MetricState().update(p, p >= 0.5, healthy)).drift_detected
    False
    >>> flipped = 1 - healthy
    >>> detector.update(MetricState().update(p, p >= 0.5, flipped)).drift_detected
    True
    >>> detector.verdict.reason
    'roc_auc 0.159 (99% interval 0.130-0.193) is below the threshold 0.780'
    >>> detector.update(MetricState().update(p[:30], p[:30] >= 0.5, flipped[:30])).verdict.judged
    False
    """

    def __init__(
        self,
        *,
        metric: JudgedMetric = "roc_auc",
        floor: float = 0.70,
        margin: float = 0.05,
        confidence: float = 0.99,
        min_labels: int = 200,
        baseline: float | None = None,
    ) -> None:
        if metric not in ("accuracy", "roc_auc"):
            raise ValueError(f"metric must be accuracy or roc_auc, not {metric!r}")
        if not 0 <= floor <= 1 or not 0 <= margin <= 1:
            raise ValueError("floor and margin must lie in [0, 1]")
        if not 0.5 < confidence < 1:
            raise ValueError("confidence must lie in (0.5, 1)")
        if min_labels < 1:
            raise ValueError("min_labels must be >= 1")
        self.metric: JudgedMetric = metric
        self.floor = floor
        self.margin = margin
        self.confidence = confidence
        self.min_labels = min_labels
        self.baseline = baseline
        self._reset()

    def _reset(self) -> None:
        self._verdict: Verdict | None = None

    @classmethod
    def from_config(
        cls, config: PerformanceConfig, baseline: float | None = None
    ) -> PerformanceDetector:
        """A detector for one version; ``baseline`` is its holdout figure of the metric."""
        return cls(
            metric=config.metric,
            floor=config.floor,
            margin=config.margin,
            confidence=config.confidence,
            min_labels=config.min_labels,
            baseline=baseline,
        )

    @property
    def threshold(self) -> float:
        if self.baseline is None:
            return self.floor
        return max(self.floor, self.baseline - self.margin)

    @property
    def verdict(self) -> Verdict:
        """The last window's verdict (a not-judged one before any window)."""
        if self._verdict is None:
            return self._not_judged("no window yet", 0)
        return self._verdict

    @property
    def drift_detected(self) -> bool:
        """The last window failed."""
        return self.verdict.failing

    def update(self, state: MetricState) -> PerformanceDetector:
        """Judge one closed window."""
        self._verdict = self._judge(state)
        return self

    def _not_judged(self, reason: str, labelled: int) -> Verdict:
        return Verdict(False, reason, self.metric, self.threshold, labelled, baseline=self.baseline)

    def _judge(self, state: MetricState) -> Verdict:
        n = state.labelled
        if n < self.min_labels:
            return self._not_judged(f"{n} labelled predictions, judging needs {self.min_labels}", n)
        if self.metric == "accuracy":
            value = state.correct / n
            interval = wilson(state.correct, n, self.confidence)
        else:
            fewest = min(state.labelled_positive, n - state.labelled_positive)
            auc, variance = state.roc_auc(), state.auc_variance()
            if fewest < MIN_CLASS_LABELS or auc is None or variance is None:
                return self._not_judged(
                    f"{fewest} labels of the rarer class, roc_auc needs {MIN_CLASS_LABELS}", n
                )
            value = auc
            interval = auc_interval(auc, variance, self.confidence)
        threshold = self.threshold
        failing = interval[1] < threshold
        described = (
            f"{self.metric} {value:.3f} ({self.confidence:.0%} interval "
            f"{interval[0]:.3f}-{interval[1]:.3f})"
        )
        if failing:
            reason = f"{described} is below the threshold {threshold:.3f}"
        elif value < threshold:
            reason = f"{described} is not confidently below the threshold {threshold:.3f}"
        else:
            reason = f"{described} meets the threshold {threshold:.3f}"
        return Verdict(
            True, reason, self.metric, threshold, n, value, interval, self.baseline, failing
        )
