"""Mergeable, bounded accumulator of one window's feature values.

A window never keeps its events. Each numeric feature keeps counts and sums on the
reference profile's fine quantile bins plus exact moments (count, mean, M2, min, max);
each categorical feature keeps category counts, unseen categories included. State is
O(bins), not O(events): about 16 kB per numeric feature with 1,000 fine bins, whether the
window holds a thousand events or a million.

Because the bins are fixed by the profile, partial states from different partitions or
consumer instances merge by adding counts and sums (moments merge with Chan's parallel
formula), so merging is exact: a window split across partitions evaluates exactly as if
one process had seen all of it. States serialize to compact bytes (zlib-compressed JSON)
for checkpointing on a compacted topic; they carry the profile digest so a checkpoint
can never be resumed against a different reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.drift.profile import (
    FloatArray,
    IntArray,
    ReferenceProfile,
    bin_by_edges,
    category_counts,
    numeric_values,
)
from core.errors import StreamscoreError
from core.packing import pack, unpack

STATE_FORMAT = 1
MAX_UNSEEN_CATEGORIES = 100
OTHER_UNSEEN = "(other unseen)"


class WindowStateError(StreamscoreError):
    """A window state cannot be updated, merged or restored."""

    hint = "use window states built from the same reference profile as the model version"


@dataclass(eq=False)
class NumericAccumulator:
    """Counts and sums on the reference fine bins, plus exact running moments."""

    counts: IntArray
    sums: FloatArray
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    missing: int = 0

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else 0.0

    def add_moments(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        """Chan et al.'s pairwise update: exact, and stable for large values."""
        if n == 0:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.n * n / total
        self.n = total
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)

    def update(self, edges: FloatArray, values: Any) -> None:
        x = numeric_values(values)
        self.missing += int(len(values) - x.size)
        if x.size == 0:
            return
        counts, sums = bin_by_edges(edges, x)
        self.counts += counts
        self.sums += sums
        mean = float(x.mean())
        self.add_moments(
            int(x.size), mean, float(np.sum((x - mean) ** 2)), float(x.min()), float(x.max())
        )

    def merge(self, other: NumericAccumulator) -> None:
        self.counts += other.counts
        self.sums += other.sums
        self.missing += other.missing
        self.add_moments(other.n, other.mean, other.m2, other.minimum, other.maximum)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
            "n": self.n,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.minimum if self.n else None,
            "max": self.maximum if self.n else None,
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericAccumulator:
        return cls(
            counts=np.asarray(d["counts"], dtype=np.int64),
            sums=np.asarray(d["sums"], dtype=np.float64),
            n=int(d["n"]),
            mean=float(d["mean"]),
            m2=float(d["m2"]),
            minimum=float("inf") if d["min"] is None else float(d["min"]),
            maximum=float("-inf") if d["max"] is None else float(d["max"]),
            missing=int(d["missing"]),
        )


@dataclass(eq=False)
class CategoricalAccumulator:
    """Category counts; categories the reference never saw are counted like any other.

    Unseen categories are kept by name up to ``MAX_UNSEEN_CATEGORIES`` distinct ones; the
    rest are lumped under ``OTHER_UNSEEN``, so a stream of garbage labels cannot grow the
    state without bound.
    """

    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    known: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """The reference's categories (never capped); not serialized, taken from the profile."""

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def _add(self, cat: str, cnt: int) -> None:
        if cat not in self.counts and cat not in self.known:
            unseen = sum(1 for c in self.counts if c not in self.known)
            if unseen >= MAX_UNSEEN_CATEGORIES:
                cat = OTHER_UNSEEN
        self.counts[cat] = self.counts.get(cat, 0) + cnt

    def update(self, values: Any) -> None:
        counts, missing = category_counts(values)
        self.missing += missing
        for cat, cnt in counts.items():
            self._add(cat, cnt)

    def merge(self, other: CategoricalAccumulator) -> None:
        for cat, cnt in other.counts.items():
            self._add(cat, cnt)
        self.missing += other.missing

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())), "missing": self.missing}

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], known: frozenset[str] = frozenset()
    ) -> CategoricalAccumulator:
        return cls({str(k): int(v) for k, v in d["counts"].items()}, int(d["missing"]), known)


class WindowState:
    """One window's features, summarised on the reference bins; ``update`` returns self.

    >>> import numpy as np
    >>> import pandas as pd
    >>> from core.drift.profile import ReferenceProfile
    >>> rng = np.random.default_rng(42)
    >>> ref = pd.DataFrame({"x": rng.normal(0, 1, 5_000), "c": rng.choice(["a", "b"], 5_000)})
    >>> profile = ReferenceProfile.from_frame(ref, numeric=["x"], categorical=["c"])
    >>> left = WindowState.empty(profile).update({"x": rng.normal(0, 1, 300),
    ...                                           "c": np.array(["a"] * 299 + ["z"])})
    >>> right = WindowState.empty(profile).update({"x": rng.normal(0, 1, 700),
    ...                                            "c": np.array(["b"] * 700)})
    >>> merged = left.merge(right)
    >>> merged.events, merged.categorical["c"].counts
    (1000, {'a': 299, 'z': 1, 'b': 700})
    >>> WindowState.from_bytes(merged.to_bytes(), profile).events
    1000
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        numeric: dict[str, NumericAccumulator],
        categorical: dict[str, CategoricalAccumulator],
        events: int = 0,
    ) -> None:
        self.profile = profile
        self.profile_digest = profile.digest()
        self.numeric = numeric
        self.categorical = categorical
        self.events = events
        """Rows seen, including rows whose features were missing."""

    @classmethod
    def empty(cls, profile: ReferenceProfile) -> WindowState:
        return cls(
            profile,
            {
                name: NumericAccumulator(
                    counts=np.zeros(p.edges.size + 1, dtype=np.int64),
                    sums=np.zeros(p.edges.size + 1, dtype=np.float64),
                )
                for name, p in profile.numeric.items()
            },
            {
                name: CategoricalAccumulator(known=frozenset(p.counts))
                for name, p in profile.categorical.items()
            },
        )

    def update(self, batch: pd.DataFrame | Mapping[str, Any]) -> WindowState:
        """Add a batch of rows: a DataFrame or a mapping of feature name to array."""
        columns = {str(c): batch[c] for c in batch}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise WindowStateError(f"batch columns differ in length: {sorted(lengths)}")
        absent = [f for f in self.profile.features if f not in columns]
        if absent:
            raise WindowStateError(f"batch lacks feature columns {absent}")
        for name, acc in self.numeric.items():
            acc.update(self.profile.numeric[name].edges, columns[name])
        for name, cat in self.categorical.items():
            cat.update(columns[name])
        self.events += lengths.pop() if lengths else 0
        return self

    def merge(self, other: WindowState) -> WindowState:
        """Add another partial state of the same window (same profile) into this one."""
        if other.profile_digest != self.profile_digest:
            raise WindowStateError("cannot merge window states built on different profiles")
        for name, acc in self.numeric.items():
            acc.merge(other.numeric[name])
        for name, cat in self.categorical.items():
            cat.merge(other.categorical[name])
        self.events += other.events
        return self

    def copy(self) -> WindowState:
        return WindowState.from_dict(self.to_dict(), self.profile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "profile_digest": self.profile_digest,
            "events": self.events,
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], profile: ReferenceProfile) -> WindowState:
        """Restore a state; ``profile`` must be the one it was built on (digest checked)."""
        if d.get("format") != STATE_FORMAT:
            raise WindowStateError(f"unsupported window state format {d.get('format')!r}")
        if d.get("profile_digest") != profile.digest():
            raise WindowStateError("window state was built on a different reference profile")
        try:
            numeric = {k: NumericAccumulator.from_dict(d["numeric"][k]) for k in profile.numeric}
            categorical = {
                k: CategoricalAccumulator.from_dict(d["categorical"][k], frozenset(p.counts))
                for k, p in profile.categorical.items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise WindowStateError(f"malformed window state: {exc}") from None
        for name, acc in numeric.items():
            if acc.counts.size != profile.numeric[name].edges.size + 1:
                raise WindowStateError(f"window state bins of {name!r} do not match the profile")
        return cls(profile, numeric, categorical, int(d["events"]))

    def to_bytes(self) -> bytes:
        return pack(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes, profile: ReferenceProfile) -> WindowState:
        return cls.from_dict(unpack(data, WindowStateError, "window state bytes"), profile)
