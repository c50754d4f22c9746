"""The reference profile: everything the drift tests need from the training data, and nothing more.

A model version is registered with its profile so that the drift watcher never needs the
raw training rows at run time. For a numeric feature the profile keeps a fine quantile
grid (by default 1,000 bins whose edges are reference quantiles taken with the
``inverted_cdf`` rule, so every edge is an observed value), the reference count and sum
of values in each fine bin, the coarse PSI bins (a subset of the fine edges) and the
moments. That grid is a quantile sketch: the reference CDF is exact at every edge, and
each fine bin holds at most about 1/1,000 of the reference mass, which bounds the error
of the binned KS statistic (see ``core.drift.stats``). For a categorical feature the
profile keeps category counts.

The profile is a JSON-safe dict with a canonical digest (sha256 of its canonical JSON),
which alerts carry so that an alert can always be traced to the exact reference used.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import StreamscoreError

PROFILE_FORMAT = 1
"""Bumped when the dict layout changes incompatibly."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ProfileError(StreamscoreError):
    """A reference profile cannot be built or read."""

    hint = "build the profile from training data with ReferenceProfile.from_frame"


def numeric_values(values: Any) -> FloatArray:
    """Finite float64 values of a column; missing and non-finite values are dropped."""
    given = np.asarray(values)
    arr: FloatArray
    if given.dtype.kind in "fiub":
        arr = given.astype(np.float64, copy=False)
    else:
        arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=np.float64)
    return arr[np.isfinite(arr)]


def category_counts(values: Any) -> tuple[dict[str, int], int]:
    """Counts of each category label (as a string) and the number of missing values.

    Hash-based (pandas ``value_counts``), so a million labels take milliseconds.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    counts = series.value_counts(dropna=True, sort=False)
    return {str(k): int(v) for k, v in counts.items()}, int(series.isna().sum())


def bin_by_edges(edges: FloatArray, x: FloatArray) -> tuple[IntArray, FloatArray]:
    """Count and sum of ``x`` in each bin (edges[i-1], edges[i]], outer bins open-ended.

    Sorting once and cutting at the edges is about ten times faster than looking every
    value up among the edges, and each bin's sum is added up exactly from its own values.
    """
    xs = np.sort(x)
    cuts = np.searchsorted(xs, edges, side="right")
    bounds = np.concatenate(([0], cuts, [xs.size]))
    counts = np.diff(bounds).astype(np.int64)
    sums = np.zeros(counts.size, dtype=np.float64)
    filled = counts > 0
    if filled.any():
        sums[filled] = np.add.reduceat(xs, bounds[:-1][filled])
    return counts, sums


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """Reference summary of one numeric feature (fine quantile bins and moments)."""

    count: int
    mean: float
    std: float
    minimum: float
    maximum: float
    missing: int
    edges: FloatArray
    """Unique fine bin edges; bin i is (edges[i-1], edges[i]], outer bins open-ended."""
    counts: IntArray
    """Reference count per fine bin (len(edges) + 1)."""
    sums: FloatArray
    """Sum of reference values per fine bin: makes the binned Wasserstein distance exact
    whenever the two CDFs do not cross inside a bin."""
    psi_edges: FloatArray
    """Coarse PSI bin edges, a subset of ``edges``."""

    @classmethod
    def from_values(
        cls, values: Any, *, fine_bins: int, psi_bins: int, missing: int = 0
    ) -> NumericProfile:
        x = numeric_values(values)
        missing += int(len(values) - x.size)
        if x.size == 0:
            raise ProfileError("a numeric feature has no finite values in the reference")
        raw = np.quantile(x, np.arange(1, fine_bins) / fine_bins, method="inverted_cdf")
        coarse_idx = np.arange(1, psi_bins) * (fine_bins // psi_bins) - 1
        edges = np.unique(raw)
        psi_edges = np.unique(raw[coarse_idx])
        counts, sums = bin_by_edges(edges.astype(np.float64), x)
        return cls(
            count=int(x.size),
            mean=float(x.mean()),
            std=float(x.std(ddof=1)) if x.size > 1 else 0.0,
            minimum=float(x.min()),
            maximum=float(x.max()),
            missing=missing,
            edges=edges.astype(np.float64),
            counts=counts,
            sums=sums,
            psi_edges=psi_edges.astype(np.float64),
        )

    def psi_map(self) -> IntArray:
        """For each fine bin, the coarse PSI bin containing it (fine bins nest in coarse)."""
        upper = np.append(self.edges, np.inf)
        return np.searchsorted(self.psi_edges, upper, side="left").astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "min": self.minimum,
            "max": self.maximum,
            "missing": self.missing,
            "edges": [float(v) for v in self.edges],
            "counts": [int(v) for v in self.counts],
            "sums": [float(v) for v in self.sums],
            "psi_edges": [float(v) for v in self.psi_edges],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericProfile:
        edges = np.asarray(d["edges"], dtype=np.float64)
        counts = np.asarray(d["counts"], dtype=np.int64)
        sums = np.asarray(d["sums"], dtype=np.float64)
        psi_edges = np.asarray(d["psi_edges"], dtype=np.float64)
        if counts.size != edges.size + 1 or sums.size != counts.size:
            raise ProfileError("numeric profile bins do not match its edges")
        if not np.isin(psi_edges, edges).all():
            raise ProfileError("numeric profile PSI edges are not fine edges")
        return cls(
            count=int(d["count"]),
            mean=float(d["mean"]),
            std=float(d["std"]),
            minimum=float(d["min"]),
            maximum=float(d["max"]),
            missing=int(d.get("missing", 0)),
            edges=edges,
            counts=counts,
            sums=sums,
            psi_edges=psi_edges,
        )


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """Reference category counts of one categorical feature."""

    counts: dict[str, int]
    missing: int

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def from_values(cls, values: Any) -> CategoricalProfile:
        counts, missing = category_counts(values)
        if not counts:
            raise ProfileError("a categorical feature has no values in the reference")
        return cls(counts=dict(sorted(counts.items())), missing=missing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "categorical",
            "counts": dict(sorted(self.counts.items())),
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        return cls(
            counts={str(k): int(v) for k, v in d["counts"].items()},
            missing=int(d.get("missing", 0)),
        )


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """What every drift test needs from the training data, without the raw rows.

    Built once at model registration and stored with the version; JSON-safe via
    ``to_dict`` and identified by ``digest()``.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(7)
    >>> df = pd.DataFrame({"age": rng.normal(35, 10, 2_000).round(),
    ...                    "contract_type": rng.choice(["month-to-month", "one_year"], 2_000)})
    >>> profile = ReferenceProfile.from_frame(df, numeric=["age"], categorical=["contract_type"])
    >>> profile.features
    ('age', 'contract_type')
    >>> int(profile.numeric["age"].counts.sum())
    2000
    >>> again = ReferenceProfile.from_dict(profile.to_dict())
    >>> again.digest() == profile.digest() and len(profile.digest())
    64
    """

    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    rows: int
    fine_bins: int
    psi_bins: int

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.numeric) + tuple(self.categorical)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        numeric: Sequence[str],
        categorical: Sequence[str],
        *,
        fine_bins: int = 1000,
        psi_bins: int = 10,
    ) -> ReferenceProfile:
        """Profile the named columns of the training frame."""
        if psi_bins < 2 or fine_bins < psi_bins or fine_bins % psi_bins:
            raise ProfileError(
                f"fine_bins ({fine_bins}) must be a multiple of psi_bins ({psi_bins}) >= 2"
            )
        overlap = set(numeric) & set(categorical)
        if overlap:
            raise ProfileError(f"features both numeric and categorical: {sorted(overlap)}")
        missing = [c for c in (*numeric, *categorical) if c not in df.columns]
        if missing:
            raise ProfileError(f"reference data lacks columns {missing}")
        if not (numeric or categorical):
            raise ProfileError("no features to profile")
        return cls(
            numeric={
                c: NumericProfile.from_values(df[c], fine_bins=fine_bins, psi_bins=psi_bins)
                for c in numeric
            },
            categorical={c: CategoricalProfile.from_values(df[c]) for c in categorical},
            rows=len(df),
            fine_bins=fine_bins,
            psi_bins=psi_bins,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "rows": self.rows,
            "fine_bins": self.fine_bins,
            "psi_bins": self.psi_bins,
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceProfile:
        if d.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"unsupported profile format {d.get('format')!r}")
        try:
            return cls(
                numeric={k: NumericProfile.from_dict(v) for k, v in d["numeric"].items()},
                categorical={
                    k: CategoricalProfile.from_dict(v) for k, v in d["categorical"].items()
                },
                rows=int(d["rows"]),
                fine_bins=int(d["fine_bins"]),
                psi_bins=int(d["psi_bins"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"malformed reference profile: {exc}") from None

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, no NaN: the same profile always gives the same text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    def digest(self) -> str:
        """sha256 hex of the canonical JSON (computed once: the profile is immutable)."""
        return self._digest

    @functools.cached_property
    def _digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
