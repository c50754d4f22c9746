"""The result of one comparison: per test, per feature, and overall; JSON-serializable.

A report is plain data so it can be written to disk, embedded in an alert, rendered as
HTML and read back (``DriftReport.from_dict``) without the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["numeric", "categorical"]


def _num(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such values become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class TestResult:
    """One test or effect size of one feature.

    ``p_value`` is the feature's significance test after the multiple-testing correction
    (the same for every effect size of the feature); ``verdict`` is True when that is
    below alpha AND ``statistic`` reaches ``threshold``.
    """

    __test__ = False  # not a pytest test class

    name: str
    statistic: float
    threshold: float
    verdict: bool
    p_value: float | None = None
    p_value_raw: float | None = None
    error_bound: float = 0.0
    """Largest possible difference from the statistic on raw samples (0: exact)."""
    band: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "p_value_raw": _num(self.p_value_raw),
            "threshold": self.threshold,
            "error_bound": _num(self.error_bound),
            "verdict": self.verdict,
            **({"band": self.band} if self.band is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TestResult:
        return cls(
            name=d["name"],
            statistic=float("nan") if d["statistic"] is None else d["statistic"],
            threshold=d["threshold"],
            verdict=d["verdict"],
            p_value=d.get("p_value"),
            p_value_raw=d.get("p_value_raw"),
            error_bound=d.get("error_bound") or 0.0,
            band=d.get("band"),
        )


@dataclass(frozen=True)
class FeatureResult:
    """Everything about one feature: both samples' summaries, every test, the verdict."""

    name: str
    kind: Kind
    reference_count: int
    current_count: int
    current_missing: int
    reference: dict[str, Any]
    """Numeric: mean and std. Categorical: category shares."""
    current: dict[str, Any]
    tests: tuple[TestResult, ...] = ()
    analysed: bool = True
    drift: bool = False
    note: str = ""
    unseen: dict[str, int] = field(default_factory=dict)
    """Categorical only: counts of categories the reference never saw."""
    histogram: dict[str, Any] = field(default_factory=dict)
    """Display data for the HTML report: shared bin edges and both samples' shares."""

    def test(self, name: str) -> TestResult:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "analysed": self.analysed,
            "drift": self.drift,
            "note": self.note,
            "reference_count": self.reference_count,
            "current_count": self.current_count,
            "current_missing": self.current_missing,
            "reference": {k: _clean(v) for k, v in self.reference.items()},
            "current": {k: _clean(v) for k, v in self.current.items()},
            "unseen": dict(self.unseen),
            "tests": [t.to_dict() for t in self.tests],
            "histogram": _clean(self.histogram),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureResult:
        return cls(
            name=d["name"],
            kind=d["kind"],
            reference_count=d["reference_count"],
            current_count=d["current_count"],
            current_missing=d.get("current_missing", 0),
            reference=dict(d["reference"]),
            current=dict(d["current"]),
            tests=tuple(TestResult.from_dict(t) for t in d["tests"]),
            analysed=d["analysed"],
            drift=d["drift"],
            note=d.get("note", ""),
            unseen=dict(d.get("unseen", {})),
            histogram=dict(d.get("histogram", {})),
        )


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class DriftReport:
    """One comparison of a current window (or file) against the reference.

    Plain data, so it survives JSON unchanged: the watcher writes it next to an alert and
    anything can read it back without the engine.

    >>> import json
    >>> import numpy as np, pandas as pd
    >>> from core.drift.config import DriftConfig
    >>> from core.drift.evaluate import compare_frames
    >>> rng = np.random.default_rng(3)
    >>> ref = pd.DataFrame({"tenure_months": rng.integers(0, 72, 2_000)})
    >>> cur = pd.DataFrame({"tenure_months": rng.integers(0, 72, 800)})
    >>> report = compare_frames(ref, cur, ["tenure_months"], [], DriftConfig())
    >>> d = json.loads(json.dumps(report.to_dict()))
    >>> d["drift_detected"], d["features_analysed"], d["features"][0]["tests"][0]["name"]
    (False, 1, 'ks')
    >>> DriftReport.from_dict(d).to_dict() == d
    True
    """

    features: tuple[FeatureResult, ...]
    reference_rows: int
    current_rows: int
    judged: bool
    """False when the window is below `min_window_events`: no verdict is given."""
    exact: bool
    """True when KS and Wasserstein ran on raw samples, False when on reference bins."""
    alpha: float
    correction: str
    note: str = ""

    @property
    def features_analysed(self) -> int:
        return sum(f.analysed for f in self.features)

    @property
    def drifting_features(self) -> list[str]:
        return [f.name for f in self.features if f.drift]

    @property
    def drift_detected(self) -> bool:
        return self.judged and bool(self.drifting_features)

    def feature(self, name: str) -> FeatureResult:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift_detected": self.drift_detected,
            "judged": self.judged,
            "note": self.note,
            "features_analysed": self.features_analysed,
            "features_drifting": len(self.drifting_features),
            "drifting_features": self.drifting_features,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "exact": self.exact,
            "alpha": self.alpha,
            "correction": self.correction,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftReport:
        return cls(
            features=tuple(FeatureResult.from_dict(f) for f in d["features"]),
            reference_rows=d["reference_rows"],
            current_rows=d["current_rows"],
            judged=d["judged"],
            exact=d["exact"],
            alpha=d["alpha"],
            correction=d["correction"],
            note=d.get("note", ""),
        )
