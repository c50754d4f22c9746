"""Raw prediction and outcome bytes to join inputs, at the speed of the transport.

The monitor reads two topics at hundreds of thousands of records a second, and a
pydantic model per record cost more than consuming it. msgspec checks the same contract
(`core.schemas.Prediction`, `Outcome`) several times faster into plain tuples. It is a
fast path, not a second source of truth: whatever it rejects is validated again by the
contract's own models, so a record counts exactly when pydantic accepts it; a property
test holds msgspec to never accepting what pydantic rejects.

Records are grouped by partition and kept in batch order within each: the join's
outcome for a record can depend on what came before it in its partition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, NamedTuple

import msgspec
from pydantic import ValidationError

from core.records import Record
from core.schemas import Outcome, Prediction

Side = Literal["predictions", "outcomes"]

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]

PredictionInput = tuple[str, float, str, int, float, int]
"""(event_id, event time, model_name, model_version, probability, prediction)."""
OutcomeInput = tuple[str, float, int]
"""(event_id, event time, label)."""
JoinInput = PredictionInput | OutcomeInput
"""What the join takes, told apart by length: 6 for a prediction, 3 for an outcome."""


class _Prediction(msgspec.Struct, frozen=True):
    event_id: _Id
    customer_id: _Id
    prediction: Literal[0, 1]
    probability: Annotated[float, msgspec.Meta(ge=0, le=1)]
    risk_level: Literal["low", "medium", "high"]
    model_name: str
    model_version: int
    scored_at: datetime


class _Outcome(msgspec.Struct, frozen=True):
    event_id: _Id
    customer_id: _Id
    churned: Literal[0, 1]
    observed_at: datetime


_DECODE_PREDICTION = msgspec.json.Decoder(_Prediction).decode
_DECODE_OUTCOME = msgspec.json.Decoder(_Outcome).decode
_REJECTED = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, TypeError)


@dataclass
class PartitionInput:
    """One input partition's valid records of a batch, in batch order."""

    items: list[JoinInput] = field(default_factory=list)
    predictions_seen: float | None = None
    """Largest record timestamp among its predictions (None: none in the batch)."""
    outcomes_seen: float | None = None
    positions: list[int] = field(default_factory=list)
    """Each item's index in the batch (`DecodedBatch.without`)."""


class Rejected(NamedTuple):
    """A record that is not a valid prediction or outcome."""

    position: int
    topic: str
    partition: int
    side: Side
    timestamp_ms: int


@dataclass
class DecodedBatch:
    partitions: dict[int, PartitionInput]
    models: set[tuple[str, int]]
    """Every (model_name, model_version) of the batch's valid predictions."""
    invalid: dict[str, int]
    """Records per topic that are not a valid prediction or outcome."""
    rejected: list[Rejected] = field(default_factory=list)
    elsewhere: set[int] = field(default_factory=set)
    """Partitions of records of neither topic."""

    def delivered(self) -> set[int]:
        """Every partition the batch has a record of, valid or not."""
        return {*self.partitions, *(r.partition for r in self.rejected), *self.elsewhere}

    def read(self) -> dict[tuple[int, Side], float]:
        """Per (partition, topic), the largest record timestamp of the batch in seconds,
        valid records or not; a topic-partition whose records have no timestamp (-1) is
        left out. What the batch reads, for holding a join's topics level."""
        out: dict[tuple[int, Side], float] = {}
        for p, target in self.partitions.items():
            if target.predictions_seen is not None:
                out[(p, "predictions")] = target.predictions_seen
            if target.outcomes_seen is not None:
                out[(p, "outcomes")] = target.outcomes_seen
        for r in self.rejected:
            key, at = (r.partition, r.side), r.timestamp_ms / 1000
            if key not in out or at > out[key]:
                out[key] = at
        return {key: at for key, at in out.items() if at > -0.001}

    def without(self, cuts: Mapping[tuple[int, Side], int]) -> DecodedBatch:
        """The batch as if each (partition, topic) of `cuts` had ended before that batch
        index: what decoding the records left would give (those are read again later,
        `MonitorHandler.unread`), without decoding them again."""
        partitions: dict[int, PartitionInput] = {}
        for p, target in self.partitions.items():
            predictions_cut = cuts.get((p, "predictions"))
            outcomes_cut = cuts.get((p, "outcomes"))
            if predictions_cut is None and outcomes_cut is None:
                partitions[p] = target
                continue
            kept = PartitionInput()
            for item, position in zip(target.items, target.positions, strict=True):
                prediction = len(item) == 6
                cut = predictions_cut if prediction else outcomes_cut
                if cut is not None and position >= cut:
                    continue
                kept.items.append(item)
                kept.positions.append(position)
                if prediction:
                    if kept.predictions_seen is None or item[1] > kept.predictions_seen:
                        kept.predictions_seen = item[1]
                elif kept.outcomes_seen is None or item[1] > kept.outcomes_seen:
                    kept.outcomes_seen = item[1]
            if kept.items:
                partitions[p] = kept
        rejected = [
            r
            for r in self.rejected
            if (cut := cuts.get((r.partition, r.side))) is None or r.position < cut
        ]
        invalid: dict[str, int] = {}
        for r in rejected:
            invalid[r.topic] = invalid.get(r.topic, 0) + 1
        models = {
            (item[2], item[3])
            for target in partitions.values()
            for item in target.items
            if len(item) == 6
        }
        return DecodedBatch(partitions, models, invalid, rejected, self.elsewhere)


def decode_prediction(raw: bytes | None) -> Prediction | _Prediction | None:
    """The record's prediction, or None when the contract rejects it."""
    try:
        return _DECODE_PREDICTION(raw or b"")
    except _REJECTED:
        try:
            return Prediction.model_validate_json(raw or b"")
        except ValidationError:
            return None


def decode_outcome(raw: bytes | None) -> Outcome | _Outcome | None:
    try:
        return _DECODE_OUTCOME(raw or b"")
    except _REJECTED:
        try:
            return Outcome.model_validate_json(raw or b"")
        except ValidationError:
            return None


def decode_batch(
    records: Sequence[Record], predictions_topic: str, outcomes_topic: str
) -> DecodedBatch:
    """The batch's valid predictions and outcomes by partition, in one pass over the
    records (each pass over tens of thousands of the client's messages costs its own
    cache misses); records of other topics are only noted (`DecodedBatch.elsewhere`)."""
    partitions: dict[int, PartitionInput] = {}
    models: set[tuple[str, int]] = set()
    invalid: dict[str, int] = {}
    rejected: list[Rejected] = []
    elsewhere: set[int] = set()
    prediction: Prediction | _Prediction | None
    outcome: Outcome | _Outcome | None
    # A backlog comes in runs of one topic-partition: the last target, its largest
    # timestamps and the last model are kept in locals rather than looked up per record.
    last_partition, target = -1, PartitionInput()
    items: list[JoinInput] = target.items
    positions: list[int] = target.positions
    predictions_seen: float | None = None
    outcomes_seen: float | None = None
    last_name: str | None = None
    last_version = 0
    probability: float
    decision: int
    churned: int
    decode_p, decode_o = _DECODE_PREDICTION, _DECODE_OUTCOME
    for position, record in enumerate(records):
        topic = record.topic()
        if topic == predictions_topic:
            raw = record.value()
            try:
                prediction = decode_p(raw or b"")
                probability, decision = prediction.probability, prediction.prediction
            except _REJECTED:
                prediction = decode_prediction(raw)
                if prediction is None:
                    invalid[topic] = invalid.get(topic, 0) + 1
                    rejected.append(_rejected(position, record, topic, "predictions"))
                    continue
                probability, decision = float(prediction.probability), int(prediction.prediction)
            partition = record.partition() or 0
            if partition != last_partition:
                target.predictions_seen, target.outcomes_seen = predictions_seen, outcomes_seen
                target = partitions.get(partition) or partitions.setdefault(
                    partition, PartitionInput()
                )
                items, positions, last_partition = target.items, target.positions, partition
                predictions_seen, outcomes_seen = target.predictions_seen, target.outcomes_seen
            at = record.timestamp()[1] / 1000
            name, version = prediction.model_name, prediction.model_version
            if version != last_version or name != last_name:
                last_name, last_version = name, version
                models.add((name, version))
            items.append((prediction.event_id, at, name, version, probability, decision))
            positions.append(position)
            if predictions_seen is None or at > predictions_seen:
                predictions_seen = at
        elif topic == outcomes_topic:
            raw = record.value()
            try:
                outcome = decode_o(raw or b"")
                churned = outcome.churned
            except _REJECTED:
                outcome = decode_outcome(raw)
                if outcome is None:
                    invalid[topic] = invalid.get(topic, 0) + 1
                    rejected.append(_rejected(position, record, topic, "outcomes"))
                    continue
                churned = int(outcome.churned)
            partition = record.partition() or 0
            if partition != last_partition:
                target.predictions_seen, target.outcomes_seen = predictions_seen, outcomes_seen
                target = partitions.get(partition) or partitions.setdefault(
                    partition, PartitionInput()
                )
                items, positions, last_partition = target.items, target.positions, partition
                predictions_seen, outcomes_seen = target.predictions_seen, target.outcomes_seen
            at = record.timestamp()[1] / 1000
            items.append((outcome.event_id, at, churned))
            positions.append(position)
            if outcomes_seen is None or at > outcomes_seen:
                outcomes_seen = at
        else:
            elsewhere.add(record.partition() or 0)
    target.predictions_seen, target.outcomes_seen = predictions_seen, outcomes_seen
    return DecodedBatch(partitions, models, invalid, rejected, elsewhere)


def _rejected(position: int, record: Record, topic: str, side: Side) -> Rejected:
    return Rejected(position, topic, record.partition() or 0, side, record.timestamp()[1])
