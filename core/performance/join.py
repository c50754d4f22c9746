"""Joining predictions with their later outcomes on ``event_id``, in bounded memory.

Either side may arrive first. Each entry waits for its other half at most
``label_delay_s`` of event time past its own time; the watermark (advanced by the
caller, e.g. the slowest partition's event time) decides when that has passed. Every
accepted prediction ends in exactly one of: paired with its outcome, or evicted
unlabelled; every accepted outcome in exactly one of: paired, or evicted orphaned. A
pair is emitted once:

* after pairing, the ``event_id`` stays as a tombstone until both halves' waiting time
  has passed, so a redelivered prediction or outcome is recognised and counted as a
  duplicate;
* anything whose own time plus the delay has already passed the watermark is late and
  dropped (counted): its tombstone may be gone, so it could otherwise pair or count
  twice. A redelivery carries its original time, so it can never slip past both rules.

An outcome whose prediction has already been evicted is counted orphaned; the
prediction stays counted unlabelled. Memory is capped at ``max_entries`` (pending
halves and tombstones): past it the entry with the earliest deadline is evicted early
and counted in ``capped`` as well. A capped tombstone loses its duplicate protection, so
size the cap above prediction rate × delay and treat a non-zero ``capped`` as an alarm.

State serialises to compact bytes (zlib-compressed columnar JSON) for the checkpoint
that goes in the same Kafka transaction as the consumed offsets.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, NamedTuple

from core.errors import StreamscoreError
from core.packing import pack, unpack

JOIN_FORMAT = 1

Status = Literal["waiting", "paired", "duplicate", "late"]

_PREDICTION, _OUTCOME, _DONE = "P", "O", "D"


class JoinStateError(StreamscoreError):
    """A join buffer checkpoint cannot be restored."""

    hint = "the checkpoint is corrupt or from another format: reset the monitor's state"


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """A prediction with its observed label; times are event-time epoch seconds."""

    event_id: str
    model_name: str
    model_version: int
    probability: float
    prediction: int
    label: int
    predicted_at: float
    observed_at: float


class Joined(NamedTuple):
    """What became of one prediction or outcome handed to the buffer."""

    status: Status
    pair: LabelledPair | None = None


class Evicted(NamedTuple):
    """Entries a watermark advance evicted without their other half."""

    unlabelled: int
    orphaned: int


@dataclass
class JoinCounts:
    """Running totals; every accepted half lands in exactly one outcome counter."""

    predictions: int = 0
    """Predictions accepted (neither duplicate nor late)."""
    outcomes: int = 0
    paired: int = 0
    unlabelled: int = 0
    """Predictions evicted without an outcome (after the delay, or by the cap)."""
    orphaned: int = 0
    """Outcomes evicted without a prediction."""
    duplicate_predictions: int = 0
    duplicate_outcomes: int = 0
    late_predictions: int = 0
    late_outcomes: int = 0
    capped: int = 0
    """Entries (pending or tombstones) evicted early because the buffer was full."""


class _Scored(NamedTuple):
    """The waiting half of a prediction."""

    model_name: str
    model_version: int
    probability: float
    prediction: int


class _Entry(NamedTuple):
    """One event id's entry: ``half`` is a waiting prediction (`_Scored`), a waiting
    outcome's label (int), or None for a tombstone of a pair already emitted."""

    deadline: float
    seq: int
    time: float
    half: _Scored | int | None


def _kind(entry: _Entry) -> str:
    if isinstance(entry.half, _Scored):
        return _PREDICTION
    return _DONE if entry.half is None else _OUTCOME


class JoinBuffer:
    """Pairs predictions and outcomes by event id; ``advance`` evicts the expired.

    >>> buffer = JoinBuffer(label_delay_s=60, max_entries=1_000)
    >>> buffer.add_outcome("e1", label=1, event_time=5.0).status
    'waiting'
    >>> joined = buffer.add_prediction(
    ...     "e1", model_name="churn", model_version=2, probability=0.8, prediction=1,
    ...     event_time=0.0)
    >>> joined.status, joined.pair.label, joined.pair.probability
    ('paired', 1, 0.8)
    >>> buffer.add_outcome("e1", label=1, event_time=5.0).status
    'duplicate'
    >>> _ = buffer.add_prediction(
    ...     "e2", model_name="churn", model_version=2, probability=0.1, prediction=0,
    ...     event_time=1.0)
    >>> buffer.advance(61.0), len(buffer)
    (Evicted(unlabelled=1, orphaned=0), 1)
    >>> restored = JoinBuffer.from_bytes(buffer.to_bytes())
    >>> restored.counts == buffer.counts, len(restored)
    (True, 1)
    """

    def __init__(self, *, label_delay_s: float, max_entries: int) -> None:
        if not (label_delay_s >= 0 and math.isfinite(label_delay_s)):
            raise ValueError("label_delay_s must be a finite number >= 0")
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.label_delay_s = float(label_delay_s)
        self.max_entries = int(max_entries)
        self._reset()

    def _reset(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        """(deadline, seq, event_id); an item is stale once its entry's seq differs."""
        self._seq = 0
        self.watermark = -math.inf
        """Entries whose deadline is at or before this have been evicted."""
        self.counts = JoinCounts()

    # ------------------------------------------------------------------ size

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def pending_predictions(self) -> int:
        return sum(1 for e in self._entries.values() if isinstance(e.half, _Scored))

    @property
    def pending_outcomes(self) -> int:
        return sum(1 for e in self._entries.values() if isinstance(e.half, int))

    # ------------------------------------------------------------------ input

    def add_prediction(
        self,
        event_id: str,
        *,
        model_name: str,
        model_version: int,
        probability: float,
        prediction: int,
        event_time: float,
    ) -> Joined:
        """One prediction; the first delivery of an event id wins."""
        current = self._entries.get(event_id)
        if current is not None and not isinstance(current.half, int):
            self.counts.duplicate_predictions += 1
            return Joined("duplicate")
        if event_time + self.label_delay_s <= self.watermark:
            self.counts.late_predictions += 1
            return Joined("late")
        self.counts.predictions += 1
        scored = _Scored(model_name, int(model_version), float(probability), int(prediction))
        if current is not None and isinstance(current.half, int):
            return self._paired(event_id, scored, current.half, float(event_time), current.time)
        self._put(event_id, event_time, scored)
        return Joined("waiting")

    def add_outcome(self, event_id: str, *, label: int, event_time: float) -> Joined:
        """One observed label; ``event_time`` is when it was observed."""
        current = self._entries.get(event_id)
        if current is not None and not isinstance(current.half, _Scored):
            self.counts.duplicate_outcomes += 1
            return Joined("duplicate")
        if event_time + self.label_delay_s <= self.watermark:
            self.counts.late_outcomes += 1
            return Joined("late")
        self.counts.outcomes += 1
        if current is not None and isinstance(current.half, _Scored):
            return self._paired(event_id, current.half, int(label), current.time, float(event_time))
        self._put(event_id, event_time, int(label))
        return Joined("waiting")

    def advance(self, watermark: float) -> Evicted:
        """Move the watermark forward (never back) and evict what waited long enough."""
        if watermark <= self.watermark:
            return Evicted(0, 0)
        self.watermark = watermark
        unlabelled = orphaned = 0
        while self._heap and self._heap[0][0] <= watermark:
            kind = self._evict_first(until=watermark)
            unlabelled += kind == _PREDICTION
            orphaned += kind == _OUTCOME
        return Evicted(unlabelled, orphaned)

    # ------------------------------------------------------------------ internals

    def _paired(
        self, event_id: str, scored: _Scored, label: int, predicted_at: float, observed_at: float
    ) -> Joined:
        self.counts.paired += 1
        pair = LabelledPair(event_id, *scored, label, predicted_at, observed_at)
        self._put(event_id, max(predicted_at, observed_at), None)
        return Joined("paired", pair)

    def _put(self, event_id: str, time: float, half: _Scored | int | None) -> None:
        """Insert or replace an entry; it expires ``label_delay_s`` after ``time``."""
        self._seq += 1
        deadline = float(time) + self.label_delay_s
        self._entries[event_id] = _Entry(deadline, self._seq, float(time), half)
        heapq.heappush(self._heap, (deadline, self._seq, event_id))
        while len(self._entries) > self.max_entries:
            self.counts.capped += 1
            self._evict_first()

    def _evict_first(self, until: float = math.inf) -> str | None:
        """Evict the live entry with the earliest deadline, if that is at or before
        ``until``; returns its kind (None when only stale items were dropped)."""
        while self._heap and self._heap[0][0] <= until:
            _, seq, event_id = heapq.heappop(self._heap)
            entry = self._entries.get(event_id)
            if entry is None or entry.seq != seq:
                continue  # stale: the entry was paired or evicted since
            del self._entries[event_id]
            kind = _kind(entry)
            if kind == _PREDICTION:
                self.counts.unlabelled += 1
            elif kind == _OUTCOME:
                self.counts.orphaned += 1
            return kind
        return None

    # ------------------------------------------------------------------ checkpoints

    def to_bytes(self) -> bytes:
        """Columnar, so ids and numbers compress well; entries in deadline order.

        Written every batch, so written for speed: one pass over the entries (sorted by
        their own (deadline, seq) tuples, compared in C) and zlib level 1, which costs a
        tenth of level 6 for about 8 % more bytes.
        """
        entries = self._entries
        order = sorted(entries, key=entries.__getitem__)
        kinds: list[str] = []
        times: list[float] = []
        model: list[int] = []
        version: list[int] = []
        probability: list[float] = []
        prediction: list[str] = []
        labels: list[str] = []
        name_index: dict[str, int] = {}
        for event_id in order:
            entry = entries[event_id]
            half = entry.half
            times.append(entry.time)
            if isinstance(half, _Scored):
                kinds.append(_PREDICTION)
                index = name_index.setdefault(half.model_name, len(name_index))
                model.append(index)
                version.append(half.model_version)
                probability.append(half.probability)
                prediction.append("1" if half.prediction else "0")
            elif half is None:
                kinds.append(_DONE)
            else:
                kinds.append(_OUTCOME)
                labels.append("1" if half else "0")
        d: dict[str, Any] = {
            "format": JOIN_FORMAT,
            "label_delay_s": self.label_delay_s,
            "max_entries": self.max_entries,
            "watermark": None if math.isinf(self.watermark) else self.watermark,
            "counts": asdict(self.counts),
            "names": list(name_index),
            "ids": order,
            "kinds": "".join(kinds),
            "times": times,
            "model": model,
            "version": version,
            "probability": probability,
            "prediction": "".join(prediction),
            "label": "".join(labels),
        }
        return pack(d, level=1)

    @classmethod
    def from_bytes(cls, data: bytes) -> JoinBuffer:
        d = unpack(data, JoinStateError, "join checkpoint")
        try:
            if d.get("format") != JOIN_FORMAT:
                raise JoinStateError(f"join checkpoint format {d.get('format')!r} is unknown")
            buffer = cls(label_delay_s=d["label_delay_s"], max_entries=d["max_entries"])
            buffer._restore(d)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise JoinStateError(f"join checkpoint is unreadable: {exc!r}") from None
        return buffer

    def _restore(self, d: Mapping[str, Any]) -> None:
        if d["watermark"] is not None:
            self.watermark = float(d["watermark"])
        known = {f.name for f in fields(JoinCounts)}
        self.counts = JoinCounts(**{k: int(v) for k, v in d["counts"].items() if k in known})
        names: list[str] = d["names"]
        models = iter(d["model"])
        versions = iter(d["version"])
        probabilities = iter(d["probability"])
        predictions = iter(d["prediction"])
        labels = iter(d["label"])
        for event_id, kind, time in zip(d["ids"], d["kinds"], d["times"], strict=True):
            half: _Scored | int | None
            if kind == _PREDICTION:
                half = _Scored(
                    names[next(models)],
                    int(next(versions)),
                    float(next(probabilities)),
                    int(next(predictions)),
                )
            elif kind == _OUTCOME:
                half = int(next(labels))
            elif kind == _DONE:
                half = None
            else:
                raise ValueError(f"unknown entry kind {kind!r}")
            self._put(event_id, float(time), half)
