"""The seeded churn process: customer features, a churn label, and drift scenarios.

One process makes both the reference training data (`ChurnGenerator.reference`) and the
event stream (`ChurnGenerator.events`), so a model trained on one is tested on the other
and every figure downstream (AUC, drift alarms, retraining gains) is about the same world.

The process (constants below; the table is in docs/producers.md):

1. contract type ~ Categorical(month-to-month .55, one_year .21, two_year .24);
2. tenure_months | contract = round(72 × Beta(a, b)), longer for longer contracts;
3. age = round(18 + 60 × Beta(2, 2.6));
4. monthly_charges: 22 % basic plans near 20, the rest Normal(72, 20), clipped;
5. total_charges = tenure × monthly × LogNormal(0, 0.05), so it matches tenure;
6. churned ~ Bernoulli(sigmoid(logit)), logit linear in the features
   (`producers.relation`): month-to-month and short tenure churn more, long contracts
   less, high charges more.

Every row's randomness is drawn before any scenario applies, in a fixed order, from a
stream keyed by (seed, block of 8192 event indexes). So event i is the same whatever
`start_index` or chunking asked for it, and a scenario changes only what it names: with
the same seed, a concept-drift run has the very same features as a stable run and only
different labels (a contract-mix change also redraws tenure, and so total charges, for
the customers whose contract changed, since tenure depends on the contract).

Example (seeded, so the numbers are fixed):

>>> gen = ChurnGenerator(seed=7)
>>> frame = gen.reference(20_000)
>>> list(frame.columns)
['age', 'tenure_months', 'monthly_charges', 'total_charges', 'contract_type', 'churned']
>>> round(float(frame["churned"].mean()), 3)
0.235
>>> event, churned = next(gen.events(1))
>>> event["event_id"], event["contract_type"] in ("month-to-month", "one_year", "two_year")
('s7-e0', True)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaincinv, expit

from core.features import CONTRACT_TYPES, FEATURES, TARGET
from producers.extras import extra_fields
from producers.relation import ALTERNATIVE_RELATION, REFERENCE_RELATION
from producers.scenarios import ConceptDrift, ContractMix, FeatureShift, NewCategory, Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)
"""Default start of the event clock: fixed, so a seed alone fixes every byte."""

BLOCK: Final = 8192
"""Event indexes per random stream; the unit of chunk-independence."""

CONTRACT_MIX: Final = (0.55, 0.21, 0.24)
"""Base proportions of `CONTRACT_TYPES` (close to the public Telco churn data)."""

MAX_TENURE: Final = 72
TENURE_BETA: Final[Mapping[str, tuple[float, float]]] = {
    "month-to-month": (0.75, 2.2),  # mean about 18 months
    "one_year": (1.6, 1.3),  # mean about 40 months
    "two_year": (2.6, 0.75),  # mean about 56 months
}
BASIC_PLAN_SHARE: Final = 0.22
"""Share of customers on a basic plan (monthly charges near 20, as in phone-only plans)."""

TOTAL_NOISE_SIGMA: Final = 0.05
"""Log-scale noise of total charges around tenure × monthly charges (price changes)."""

# Feature bounds of `core.schemas.CustomerEvent`: shifted features are clipped to them.
_BOUNDS: Final[Mapping[str, tuple[float, float]]] = {
    "age": (18, 120),
    "tenure_months": (0, 1200),
    "monthly_charges": (0.01, 1e6),
    "total_charges": (0, 1e9),
}
_INTEGER_FEATURES: Final = frozenset({"age", "tenure_months"})

_EVENTS_STREAM: Final = 1
_REFERENCE_STREAM: Final = 2


LabelledEvent = tuple[dict[str, Any], int]
"""One `customer-events` value and its true label, as an `(event, churned)` pair.

A plain tuple rather than a NamedTuple: building 200,000 NamedTuples costs more than
generating the rows they describe.
"""


@dataclass(frozen=True)
class _Draws:
    """All randomness of a set of rows, drawn before any scenario looks at them."""

    contract: FloatArray
    tenure: FloatArray
    age: FloatArray
    plan: FloatArray
    monthly: FloatArray
    total: FloatArray
    label: FloatArray
    new_category: FloatArray

    @classmethod
    def of(cls, rng: np.random.Generator, n: int) -> _Draws:
        # The order is part of the contract with every stored seed: append, never reorder.
        return cls(
            contract=rng.random(n),
            tenure=rng.random(n),
            age=rng.beta(2.0, 2.6, n),
            plan=rng.random(n),
            monthly=rng.standard_normal(n),
            total=rng.standard_normal(n),
            label=rng.random(n),
            new_category=rng.random(n),
        )

    def rows(self, sl: slice) -> _Draws:
        return _Draws(**{k: v[sl] for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class CustomerBatch:
    """Features, churn probability and label of consecutive rows, as numpy columns."""

    index: IntArray
    age: IntArray
    tenure_months: IntArray
    monthly_charges: FloatArray
    total_charges: FloatArray
    contract_type: npt.NDArray[np.object_]
    churn_probability: FloatArray
    churned: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.index)

    def frame(self) -> pd.DataFrame:
        """Columns `FEATURES` + `churned`, the training-data layout."""
        return pd.DataFrame(
            {
                "age": self.age,
                "tenure_months": self.tenure_months,
                "monthly_charges": self.monthly_charges,
                "total_charges": self.total_charges,
                "contract_type": self.contract_type,
                TARGET: self.churned.astype(np.int64),
            },
            columns=[*FEATURES, TARGET],
        )


class ChurnGenerator:
    """Seeded churn customers, as training frames or as a stream of labelled events.

    `events` yields `(event, churned)` pairs (`LabelledEvent`): `event` is a contract-valid
    `customer-events` value (customer_id, event_id, RFC 3339 event_time, the five
    features, and on about half of them extra fields such as name, email and channel);
    `churned` is the label the outcome producer publishes later.

    Event i's time is `start_time + i / events_per_second` (the event clock); a scenario's
    `start_s` is measured on that clock.
    """

    def __init__(
        self,
        seed: int,
        scenarios: Sequence[Scenario] = (),
        *,
        start_time: datetime = EPOCH,
        events_per_second: float = 1000.0,
        id_prefix: str | None = None,
    ) -> None:
        if events_per_second <= 0:
            raise ValueError("events_per_second must be > 0")
        if start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware")
        self.seed = seed
        self.scenarios = tuple(scenarios)
        self.start_time = start_time
        self.events_per_second = events_per_second
        self.id_prefix = id_prefix if id_prefix is not None else f"s{seed}"
        self._categories = list(CONTRACT_TYPES)
        for s in self.scenarios:
            if isinstance(s, NewCategory) and s.value not in self._categories:
                self._categories.append(s.value)
        self._category_array = np.array(self._categories, dtype=object)
        self._start_us = int(start_time.timestamp() * 1_000_000)

    # ----------------------------------------------------------------- public API

    def reference(self, n: int) -> pd.DataFrame:
        """`n` fresh labelled rows with every scenario in effect (their starts ignored).

        `ChurnGenerator(seed).reference(n)` is the stable reference training data; with
        scenarios it is what the world looks like after they all began (e.g. data a
        retrained model should fit). Drawn from its own stream, so it never repeats the
        customers of `events` for the same seed.
        """
        rng = np.random.default_rng([self.seed, _REFERENCE_STREAM])
        draws = _Draws.of(rng, n)
        active = [np.ones(n, dtype=bool) for _ in self.scenarios]
        return self._simulate(np.arange(n, dtype=np.int64), draws, active).frame()

    def batch(self, n: int, start_index: int = 0) -> CustomerBatch:
        """Rows `start_index .. start_index + n - 1` of the event stream, vectorised."""
        if n < 0 or start_index < 0:
            raise ValueError("n and start_index must be >= 0")
        if n == 0:
            return self._block_rows(start_index, start_index)
        return _concat([self._block_rows(lo, hi) for lo, hi in _block_ranges(start_index, n)])

    def events(self, n: int | None, start_index: int = 0) -> Iterator[LabelledEvent]:
        """Labelled events from `start_index` on; `n=None` never ends.

        Generated a block at a time, so an endless stream uses constant memory.
        """
        index = start_index
        end = None if n is None else start_index + n
        while end is None or index < end:
            block_end = (index // BLOCK + 1) * BLOCK
            hi = block_end if end is None else min(block_end, end)
            batch = self._block_rows(index, hi)
            yield from self._to_events(batch)
            index = hi

    def event_time(self, index: int) -> datetime:
        """Event-clock time of event `index` (what its `event_time` says)."""
        micros = self._start_us + int(index * 1_000_000 / self.events_per_second)
        return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)

    # ----------------------------------------------------------------- internals

    def _block_rows(self, lo: int, hi: int) -> CustomerBatch:
        """Rows [lo, hi) of one block, from that block's own random stream."""
        block = lo // BLOCK
        rng = np.random.default_rng([self.seed, _EVENTS_STREAM, block])
        draws = _Draws.of(rng, BLOCK).rows(slice(lo - block * BLOCK, hi - block * BLOCK))
        index = np.arange(lo, hi, dtype=np.int64)
        active = [index >= s.first_index(self.events_per_second) for s in self.scenarios]
        return self._simulate(index, draws, active)

    def _simulate(self, index: IntArray, d: _Draws, active: Sequence[BoolArray]) -> CustomerBatch:
        scenarios = list(zip(self.scenarios, active, strict=True))

        # 1. contract type: base mix, then contract-mix and new-category scenarios.
        codes = _categorical(d.contract, CONTRACT_MIX)
        for s, on in scenarios:
            if isinstance(s, ContractMix) and on.any():
                codes[on] = _categorical(d.contract[on], s.probabilities())
        tenure_like = codes.copy()
        for s, on in scenarios:
            if isinstance(s, NewCategory):
                chosen = on & (d.new_category < s.fraction)
                codes[chosen] = self._categories.index(s.value)
                tenure_like[chosen] = CONTRACT_TYPES.index(s.like)

        # 2-5. features; tenure through the inverse CDF so the contract decides only scale.
        tenure = np.empty(len(index), dtype=np.int64)
        for code, name in enumerate(CONTRACT_TYPES):
            rows = tenure_like == code
            a, b = TENURE_BETA[name]
            tenure[rows] = np.rint(MAX_TENURE * betaincinv(a, b, d.tenure[rows]))
        age = np.rint(18.0 + 60.0 * d.age).astype(np.int64)
        monthly = np.where(
            d.plan < BASIC_PLAN_SHARE,
            np.clip(20.0 + 1.2 * d.monthly, 18.25, 25.0),
            np.clip(72.0 + 20.0 * d.monthly, 25.0, 118.75),
        ).round(2)
        total = (tenure * monthly * np.exp(TOTAL_NOISE_SIGMA * d.total)).round(2)
        columns: dict[str, Any] = {
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
        }
        for s, on in scenarios:
            if isinstance(s, FeatureShift) and on.any():
                columns[s.feature] = _shifted(columns[s.feature], on, s)

        # 6. the label, from the final features: covariate shift keeps P(churn | x).
        ref_effect = np.array(
            [REFERENCE_RELATION.contract.get(c, 0.0) for c in self._categories], dtype=float
        )
        alt_effect = ref_effect.copy()
        for c, name in enumerate(CONTRACT_TYPES):
            alt_effect[c] = ALTERNATIVE_RELATION.contract[name]
        for s in self.scenarios:
            if isinstance(s, NewCategory):
                at = self._categories.index(s.value)
                ref_effect[at] = s.churn_effect
                alt_effect[at] = ALTERNATIVE_RELATION.contract[s.like]
        x = (columns["tenure_months"], columns["monthly_charges"], columns["age"])
        logit = REFERENCE_RELATION.logit(ref_effect[codes], *x)
        if any(isinstance(s, ConceptDrift) for s in self.scenarios):
            alternative = ALTERNATIVE_RELATION.logit(alt_effect[codes], *x)
            for s, on in scenarios:
                if isinstance(s, ConceptDrift):
                    logit = np.where(on, (1 - s.strength) * logit + s.strength * alternative, logit)
        probability = expit(logit)
        return CustomerBatch(
            index=index,
            age=columns["age"],
            tenure_months=columns["tenure_months"],
            monthly_charges=columns["monthly_charges"],
            total_charges=columns["total_charges"],
            contract_type=self._category_array[codes],
            churn_probability=probability,
            churned=(d.label < probability).astype(np.int8),
        )

    def _to_events(self, batch: CustomerBatch) -> Iterator[LabelledEvent]:
        if len(batch) == 0:
            return
        micros = self._start_us + (batch.index * (1_000_000 / self.events_per_second)).astype(
            np.int64
        )
        times = np.datetime_as_string(micros.astype("datetime64[us]"), unit="ms")
        extras = extra_fields(self.seed, batch.index, BLOCK)
        prefix = self.id_prefix
        rows = zip(
            batch.index.tolist(),
            times.tolist(),
            batch.age.tolist(),
            batch.tenure_months.tolist(),
            batch.monthly_charges.tolist(),
            batch.total_charges.tolist(),
            batch.contract_type.tolist(),
            batch.churned.tolist(),
            extras,
            strict=True,
        )
        for i, t, age, tenure, monthly, total, contract, churned, extra in rows:
            event: dict[str, Any] = {
                "customer_id": f"{prefix}-c{i}",
                "event_id": f"{prefix}-e{i}",
                "event_time": t + "Z",
                "age": age,
                "tenure_months": tenure,
                "monthly_charges": monthly,
                "total_charges": total,
                "contract_type": contract,
            }
            if extra:
                event.update(extra)
            yield event, churned


def _block_ranges(start: int, n: int) -> Iterator[tuple[int, int]]:
    index, end = start, start + n
    while index < end:
        hi = min((index // BLOCK + 1) * BLOCK, end)
        yield index, hi
        index = hi


def _categorical(u: FloatArray, probabilities: Sequence[float]) -> IntArray:
    """Inverse-CDF draw: the same uniform picks the same category under the same mix."""
    thresholds = np.cumsum(probabilities)[:-1]
    return np.searchsorted(thresholds, u, side="right").astype(np.int64)


def _shifted(values: Any, on: BoolArray, s: FeatureShift) -> Any:
    low, high = _BOUNDS[s.feature]
    out = values.astype(float)
    out[on] = np.clip(out[on] * s.scale + s.shift, low, high)
    if s.feature in _INTEGER_FEATURES:
        return np.rint(out).astype(np.int64)
    return out.round(2)


def _concat(parts: list[CustomerBatch]) -> CustomerBatch:
    if len(parts) == 1:
        return parts[0]
    names = CustomerBatch.__dataclass_fields__
    return CustomerBatch(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})
