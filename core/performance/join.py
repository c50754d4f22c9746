"""Joining predictions with their later outcomes on ``event_id``, in bounded memory.

Either side may arrive first. Each entry waits for its other half ``label_delay_s`` of
event time past its own time, that instant included; the watermark (advanced by the
caller, e.g. the slowest partition's event time) decides when that has passed. A
watermark that has only reached an entry's deadline has not passed it: other records
of that millisecond may still come (at ``label_delay_s = 0`` a prediction and an
outcome stamped the same millisecond pair, whichever is read first). Every
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

State serialises to compact bytes (the entries as columns: raw numeric arrays beside
the event ids, compressed) for the checkpoint that goes in the same Kafka transaction as
the consumed offsets.
"""

from __future__ import annotations

import heapq
import math
import struct
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import starmap
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from core.errors import StreamscoreError
from core.packing import is_columns, pack_columns, unpack, unpack_columns
from core.performance.decoding import JoinInput

JOIN_FORMAT = 2

Status = Literal["waiting", "paired", "duplicate", "late"]


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


_P, _O, _D = 0, 1, 2
"""Entry kinds: a waiting prediction, a waiting outcome, a tombstone of a pair."""

_Entry = tuple[float, int, float, int, int, int, float, int]
"""(deadline, seq, time, kind, model, version, probability, value): one event id's
entry as a flat tuple (cheap to make, and the checkpoint transposes all of them at
once). ``model`` indexes `JoinBuffer.names` and ``value`` is the 0/1 prediction of a
waiting prediction; ``value`` is the label of a waiting outcome; a tombstone uses
neither."""

_ROW = struct.Struct("<dqdBiqdB")
"""An `_Entry` as fixed-width bytes: the checkpoint packs every entry with one C call
each and reads the columns straight out of the bytes (`_ROW_DTYPE`), where building a
numpy array from each field's Python objects cost three times as much."""
_ROW_DTYPE = np.dtype(
    [
        ("deadline", "<f8"),
        ("seq", "<i8"),
        ("time", "<f8"),
        ("kind", "u1"),
        ("model", "<i4"),
        ("version", "<i8"),
        ("probability", "<f8"),
        ("value", "u1"),
    ]
)

_Due = tuple[float, int, str]
"""(deadline, seq, event_id) of an entry; stale once the entry's seq differs."""

_BY_PREDICTION, _BY_OUTCOME = 0, 1

_STATUS: tuple[Status, ...] = ("waiting", "paired", "duplicate", "late")
_WAITING, _PAIRED, _DUPLICATE, _LATE = range(4)


@dataclass
class JoinedBatch:
    """What a batch of halves gave: the accepted predictions (each counts in its
    window) and the pairs, as columns; ``names`` resolves the model indexes."""

    names: list[str]
    accepted_model: list[int] = field(default_factory=list)
    accepted_version: list[int] = field(default_factory=list)
    accepted_time: list[float] = field(default_factory=list)
    pair_id: list[str] = field(default_factory=list)
    pair_model: list[int] = field(default_factory=list)
    pair_version: list[int] = field(default_factory=list)
    pair_probability: list[float] = field(default_factory=list)
    pair_prediction: list[int] = field(default_factory=list)
    pair_label: list[int] = field(default_factory=list)
    pair_predicted_at: list[float] = field(default_factory=list)
    pair_observed_at: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def pairs(self) -> list[LabelledPair]:
        names = self.names
        return [
            LabelledPair(e, names[m], v, p, d, y, tp, to)
            for e, m, v, p, d, y, tp, to in zip(
                self.pair_id,
                self.pair_model,
                self.pair_version,
                self.pair_probability,
                self.pair_prediction,
                self.pair_label,
                self.pair_predicted_at,
                self.pair_observed_at,
                strict=True,
            )
        ]


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
    >>> buffer.advance(61.0), len(buffer)  # e2 waits until 61, that instant included
    (Evicted(unlabelled=0, orphaned=0), 2)
    >>> buffer.advance(61.5), len(buffer)
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
        self._queues: tuple[deque[_Due], deque[_Due]] = (deque(), deque())
        """Deadlines in order, one queue per clock that set them: a prediction's time
        (`_BY_PREDICTION`) or an outcome's (`_BY_OUTCOME`). Each topic's timestamps mostly
        rise, so nearly every deadline is appended in order and evicted by `popleft`."""
        self._heap: list[_Due] = []
        """The deadlines that came out of order for their queue."""
        self._seq = 0
        self.names: list[str] = []
        """Model names of waiting predictions, indexed by their entries."""
        self._name_index: dict[str, int] = {}
        self.watermark = -math.inf
        """Entries whose deadline is before this have been evicted."""
        self.counts = JoinCounts()

    # ------------------------------------------------------------------ size

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def pending_predictions(self) -> int:
        return sum(1 for e in self._entries.values() if e[3] == _P)

    @property
    def pending_outcomes(self) -> int:
        return sum(1 for e in self._entries.values() if e[3] == _O)

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
        item = (
            event_id,
            float(event_time),
            model_name,
            int(model_version),
            float(probability),
            int(prediction),
        )
        return self._one(self.add_batch([item], statuses=True))

    def add_outcome(self, event_id: str, *, label: int, event_time: float) -> Joined:
        """One observed label; ``event_time`` is when it was observed."""
        return self._one(self.add_batch([(event_id, float(event_time), int(label))], statuses=True))

    @staticmethod
    def _one(joined: JoinedBatch) -> Joined:
        pairs = joined.pairs()
        return Joined(_STATUS[joined.statuses[0]], pairs[0] if pairs else None)

    def add_batch(self, items: Sequence[JoinInput], *, statuses: bool = False) -> JoinedBatch:
        """Halves in arrival order: ``(event_id, time, model_name, model_version,
        probability, prediction)`` for a prediction, ``(event_id, time, label)`` for an
        outcome (`core.performance.decoding`). Exactly what one call per half would do,
        in one loop without an object per half: the monitor's hot path."""
        joined = JoinedBatch(self.names)
        entries, heap, push = self._entries, self._heap, heapq.heappush
        by_prediction, by_outcome = self._queues
        delay, watermark, cap = self.label_delay_s, self.watermark, self.max_entries
        name_index = self._name_index
        seq = self._seq
        status = joined.statuses.append if statuses else None
        acc_model, acc_version = joined.accepted_model.append, joined.accepted_version.append
        acc_time = joined.accepted_time.append
        pair_id, pair_model = joined.pair_id.append, joined.pair_model.append
        pair_version, pair_probability = joined.pair_version.append, joined.pair_probability.append
        pair_prediction, pair_label = joined.pair_prediction.append, joined.pair_label.append
        pair_predicted, pair_observed = (
            joined.pair_predicted_at.append,
            joined.pair_observed_at.append,
        )
        predictions = outcomes = paired = 0
        duplicate_p = duplicate_o = late_p = late_o = 0
        entry: _Entry
        for item in items:
            event_id, time = item[0], item[1]
            current = entries.get(event_id)
            if len(item) == 6:
                if current is not None and current[3] != _O:
                    duplicate_p += 1
                    if status:
                        status(_DUPLICATE)
                    continue
                if time + delay < watermark:
                    late_p += 1
                    if status:
                        status(_LATE)
                    continue
                predictions += 1
                name = item[2]
                model = name_index.get(name)
                if model is None:
                    model = name_index[name] = len(self.names)
                    self.names.append(name)
                version = item[3]
                acc_model(model)
                acc_version(version)
                acc_time(time)
                seq += 1
                if current is not None:
                    paired += 1
                    pair_id(event_id)
                    pair_model(model)
                    pair_version(version)
                    pair_probability(item[4])
                    pair_prediction(item[5])
                    pair_label(current[7])
                    pair_predicted(time)
                    pair_observed(current[2])
                    if time >= current[2]:
                        entry = (time + delay, seq, time, _D, -1, 0, 0.0, 0)
                        queue = by_prediction
                    else:
                        until = current[2]
                        entry = (until + delay, seq, until, _D, -1, 0, 0.0, 0)
                        queue = by_outcome
                    if status:
                        status(_PAIRED)
                else:
                    entry = (time + delay, seq, time, _P, model, version, item[4], item[5])
                    queue = by_prediction
                    if status:
                        status(_WAITING)
            else:
                if current is not None and current[3] != _P:
                    duplicate_o += 1
                    if status:
                        status(_DUPLICATE)
                    continue
                if time + delay < watermark:
                    late_o += 1
                    if status:
                        status(_LATE)
                    continue
                outcomes += 1
                seq += 1
                if current is not None:
                    paired += 1
                    pair_id(event_id)
                    pair_model(current[4])
                    pair_version(current[5])
                    pair_probability(current[6])
                    pair_prediction(current[7])
                    pair_label(item[2])
                    pair_predicted(current[2])
                    pair_observed(time)
                    if time >= current[2]:
                        entry = (time + delay, seq, time, _D, -1, 0, 0.0, 0)
                        queue = by_outcome
                    else:
                        until = current[2]
                        entry = (until + delay, seq, until, _D, -1, 0, 0.0, 0)
                        queue = by_prediction
                    if status:
                        status(_PAIRED)
                else:
                    entry = (time + delay, seq, time, _O, -1, 0, 0.0, item[2])
                    queue = by_outcome
                    if status:
                        status(_WAITING)
            entries[event_id] = entry
            if not queue or queue[-1][0] <= entry[0]:
                queue.append((entry[0], seq, event_id))
            else:
                push(heap, (entry[0], seq, event_id))
            if len(entries) > cap:
                while len(entries) > cap:
                    self.counts.capped += 1
                    self._evict_first()
        self._seq = seq
        c = self.counts
        c.predictions += predictions
        c.outcomes += outcomes
        c.paired += paired
        c.duplicate_predictions += duplicate_p
        c.duplicate_outcomes += duplicate_o
        c.late_predictions += late_p
        c.late_outcomes += late_o
        return joined

    def advance(self, watermark: float) -> Evicted:
        """Move the watermark forward (never back) and evict what it passed."""
        if watermark <= self.watermark:
            return Evicted(0, 0)
        self.watermark = watermark
        heap, entries, pop = self._heap, self._entries, heapq.heappop
        unlabelled = orphaned = 0
        due: list[_Due] = []
        for queue in self._queues:
            take = queue.popleft
            while queue and queue[0][0] < watermark:
                due.append(take())
        while heap and heap[0][0] < watermark:
            due.append(pop(heap))
        for _, seq, event_id in due:
            entry = entries.get(event_id)
            if entry is None or entry[1] != seq:
                continue  # stale: the entry was paired or evicted since
            del entries[event_id]
            kind = entry[3]
            if kind == _P:
                unlabelled += 1
            elif kind == _O:
                orphaned += 1
        self.counts.unlabelled += unlabelled
        self.counts.orphaned += orphaned
        return Evicted(unlabelled, orphaned)

    # ------------------------------------------------------------------ internals

    def _evict_first(self, until: float = math.inf) -> int | None:
        """Evict the live entry with the earliest deadline, if that is at or before
        ``until``; returns its kind (None when only stale items were dropped)."""
        while True:
            first = self._first_due()
            if first is None or first[0] > until:
                break
            _, seq, event_id = first
            entry = self._entries.get(event_id)
            if entry is None or entry[1] != seq:
                continue  # stale: the entry was paired or evicted since
            del self._entries[event_id]
            kind = entry[3]
            if kind == _P:
                self.counts.unlabelled += 1
            elif kind == _O:
                self.counts.orphaned += 1
            return kind
        return None

    def _first_due(self) -> _Due | None:
        """Remove and return the earliest (deadline, seq) of the queues and the heap."""
        heads = [q for q in self._queues if q]
        best: deque[_Due] | list[_Due] | None = min(heads, key=lambda q: q[0], default=None)
        if self._heap and (best is None or self._heap[0] < best[0]):
            return heapq.heappop(self._heap)
        return best.popleft() if isinstance(best, deque) else None

    # ------------------------------------------------------------------ checkpoints

    def to_bytes(self) -> bytes:
        """Columnar, entries in deadline order; numbers as raw arrays.

        Written for every partition every batch, so written for speed: the entries are
        packed as fixed-width rows (`_ROW`), read back as columns and ordered by numpy;
        only the event ids go through JSON (`core.packing.pack_columns`). A prediction's
        fields are kept for waiting predictions only and a label for waiting outcomes
        only; times that are whole milliseconds (Kafka timestamps) are kept as
        millisecond steps, which compress to almost nothing; probabilities are stored
        uncompressed (zlib cannot shrink them).
        """
        entries = self._entries
        header: dict[str, Any] = {
            "format": JOIN_FORMAT,
            "label_delay_s": self.label_delay_s,
            "max_entries": self.max_entries,
            "watermark": None if math.isinf(self.watermark) else self.watermark,
            "counts": asdict(self.counts),
            "names": self.names,
            "ids": [],
        }
        if not entries:
            return pack_columns(header, {})
        rows = np.frombuffer(b"".join(starmap(_ROW.pack, entries.values())), _ROW_DTYPE)
        order = np.lexsort((rows["seq"], rows["deadline"]))
        rows = rows[order]
        header["ids"] = np.array(list(entries), dtype=object)[order].tolist()
        kinds = rows["kind"]
        waiting = kinds == _P
        answered = kinds == _O
        times = rows["time"]
        columns: dict[str, npt.NDArray[Any]] = {"kind": kinds}
        milliseconds = np.rint(times * 1000)
        if np.all(np.abs(milliseconds) < 2**53) and np.array_equal(milliseconds / 1000, times):
            columns["time_ms_step"] = np.diff(milliseconds.astype(np.int64), prepend=0)
        else:
            columns["time"] = times
        columns["model"] = rows["model"][waiting]
        columns["version"] = rows["version"][waiting]
        values = rows["value"]
        columns["prediction"] = values[waiting]
        columns["label"] = values[answered]
        columns["probability"] = rows["probability"][waiting]
        return pack_columns(header, columns, uncompressed=("probability",))

    @classmethod
    def from_bytes(cls, data: bytes) -> JoinBuffer:
        if not is_columns(data):
            return cls._from_format_1(data)
        header, columns = unpack_columns(data, JoinStateError, "join checkpoint")
        try:
            if header.get("format") != JOIN_FORMAT:
                raise JoinStateError(f"join checkpoint format {header.get('format')!r} is unknown")
            buffer = cls(label_delay_s=header["label_delay_s"], max_entries=header["max_entries"])
            buffer._restore_header(header)
            ids: list[str] = header["ids"]
            if ids:
                kinds = columns["kind"]
                if "time_ms_step" in columns:
                    times = np.cumsum(columns["time_ms_step"]) / 1000
                else:
                    times = columns["time"]
                n = len(kinds)
                model = np.full(n, -1, np.int64)
                version = np.zeros(n, np.int64)
                probability = np.zeros(n, np.float64)
                value = np.zeros(n, np.int64)
                waiting, answered = kinds == _P, kinds == _O
                model[waiting] = columns["model"]
                version[waiting] = columns["version"]
                probability[waiting] = columns["probability"]
                value[waiting] = columns["prediction"]
                value[answered] = columns["label"]
                rows = zip(
                    ids,
                    times.tolist(),
                    kinds.tolist(),
                    model.tolist(),
                    version.tolist(),
                    probability.tolist(),
                    value.tolist(),
                    strict=True,
                )
                buffer._restore_rows(rows)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise JoinStateError(f"join checkpoint is unreadable: {exc!r}") from None
        return buffer

    def _restore_header(self, d: Mapping[str, Any]) -> None:
        if d["watermark"] is not None:
            self.watermark = float(d["watermark"])
        known = {f.name for f in fields(JoinCounts)}
        self.counts = JoinCounts(**{k: int(v) for k, v in d["counts"].items() if k in known})
        self.names = [str(n) for n in d["names"]]
        self._name_index = {n: i for i, n in enumerate(self.names)}

    def _restore_rows(self, rows: Iterable[tuple[str, float, int, int, int, float, int]]) -> None:
        """Entries in deadline order get fresh sequence numbers in that order, so ties
        between deadlines break as they did before the checkpoint."""
        entries, delay = self._entries, self.label_delay_s
        queue, heap = self._queues[_BY_PREDICTION], self._heap
        seq = self._seq
        for event_id, time, kind, model, version, probability, value in rows:
            if kind not in (_P, _O, _D) or (kind == _P and not 0 <= model < len(self.names)):
                raise ValueError(f"entry {event_id!r} has kind {kind} and model {model}")
            seq += 1
            entries[event_id] = (time + delay, seq, time, kind, model, version, probability, value)
            if not queue or queue[-1][0] <= time + delay:
                queue.append((time + delay, seq, event_id))
            else:
                heapq.heappush(heap, (time + delay, seq, event_id))
        self._seq = seq
        if len(entries) > self.max_entries:
            raise ValueError(f"{len(entries)} entries exceed max_entries {self.max_entries}")

    @classmethod
    def _from_format_1(cls, data: bytes) -> JoinBuffer:
        """A checkpoint of the JSON format written before version 2 (still read, so an
        upgraded monitor resumes where the old one stopped)."""
        d = unpack(data, JoinStateError, "join checkpoint")
        try:
            if d.get("format") != 1:
                raise JoinStateError(f"join checkpoint format {d.get('format')!r} is unknown")
            buffer = cls(label_delay_s=d["label_delay_s"], max_entries=d["max_entries"])
            buffer._restore_header({**d, "names": d["names"]})
            models = iter(d["model"])
            versions = iter(d["version"])
            probabilities = iter(d["probability"])
            predictions = iter(d["prediction"])
            labels = iter(d["label"])
            rows = []
            for event_id, kind, time in zip(d["ids"], d["kinds"], d["times"], strict=True):
                if kind == "P":
                    rows.append(
                        (
                            event_id,
                            float(time),
                            _P,
                            int(next(models)),
                            int(next(versions)),
                            float(next(probabilities)),
                            int(next(predictions)),
                        )
                    )
                elif kind == "O":
                    rows.append((event_id, float(time), _O, -1, 0, 0.0, int(next(labels))))
                elif kind == "D":
                    rows.append((event_id, float(time), _D, -1, 0, 0.0, 0))
                else:
                    raise ValueError(f"unknown entry kind {kind!r}")
            buffer._restore_rows(rows)
        except (ValueError, KeyError, TypeError, IndexError, StopIteration) as exc:
            raise JoinStateError(f"join checkpoint is unreadable: {exc!r}") from None
        return buffer
