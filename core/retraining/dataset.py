"""Labelled training rows from events and outcomes read back from Kafka.

Each event is validated by the scorer's own parser (`core.validation.parse_event`), so
an event the scorer would dead-letter never trains a model either. Its id is its
`event_id`, or `topic:partition:offset` when the body has none, exactly as the scorer
names its predictions; outcomes (`core.schemas.Outcome`) join on that id. Events without
an outcome yet are left out (their label is not known, not negative), and a repeated
event id (a replay, a producer retry) counts once, at its first offset.

What stays is the newest labelled rows: those at or after `now - lookback_s` by event
time, and of those at most the last `max_events`. Event time is the event's own
`event_time`, else the Kafka record timestamp, as in the drift watcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from core.drift.alert import PartitionOffsets
from core.features import FEATURES, NUMERIC_FEATURES, TARGET
from core.records import Record, coordinates
from core.retraining.config import RetrainConfig
from core.retraining.exceptions import NotEnoughLabelledData
from core.schemas import Outcome
from core.validation import InvalidEvent, parse_event

EVENT_ID = "event_id"
EVENT_TIME = "event_time"
"""Frame column of event times (UTC); what the time split orders by."""
_DTYPES: dict[str, type[np.generic]] = {"age": np.int64, "tenure_months": np.int64}
"""Integer features keep their contract type (the reference profile records it)."""


@dataclass(frozen=True)
class DataLineage:
    """Where a training set came from: enough to find every row again on Kafka."""

    rows: int
    positives: int
    first_event_time: datetime
    last_event_time: datetime
    event_offsets: tuple[PartitionOffsets, ...]
    """Per event partition, the first and last offset of the rows kept (inclusive)."""
    events_read: int
    invalid_events: int
    """Events the scorer's parser rejects (the scorer dead-letters them)."""
    duplicate_events: int
    unlabelled_events: int
    """Valid events without an outcome yet."""
    outside_lookback: int
    """Labelled events dropped by `lookback_s` or `max_events`."""
    outcomes_read: int
    invalid_outcomes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "positives": self.positives,
            "first_event_time": self.first_event_time.isoformat(),
            "last_event_time": self.last_event_time.isoformat(),
            "event_offsets": [o.model_dump() for o in self.event_offsets],
            "events_read": self.events_read,
            "invalid_events": self.invalid_events,
            "duplicate_events": self.duplicate_events,
            "unlabelled_events": self.unlabelled_events,
            "outside_lookback": self.outside_lookback,
            "outcomes_read": self.outcomes_read,
            "invalid_outcomes": self.invalid_outcomes,
        }


@dataclass(frozen=True)
class LabelledDataset:
    frame: pd.DataFrame
    """`FEATURES`, `churned`, `event_id` and `event_time` (UTC), oldest event first."""
    lineage: DataLineage


def read_labels(outcomes: Iterable[Record]) -> tuple[dict[str, int], int, int]:
    """`event_id -> churned` (a later outcome for the same event wins), records read,
    and records that are not valid outcomes."""
    labels: dict[str, int] = {}
    read = invalid = 0
    for record in outcomes:
        read += 1
        raw = record.value()
        if raw is None:
            invalid += 1
            continue
        try:
            outcome = Outcome.model_validate_json(raw)
        except ValidationError:
            invalid += 1
            continue
        labels[outcome.event_id] = outcome.churned
    return labels, read, invalid


def build_dataset(
    events: Iterable[Record],
    outcomes: Iterable[Record],
    config: RetrainConfig,
    *,
    now: datetime,
    max_event_bytes: int,
) -> LabelledDataset:
    """Join, select and check; raises `NotEnoughLabelledData` when too few rows remain.

    `max_event_bytes` is the shared `settings.validation.max_event_bytes`: required, so
    no caller can judge events by another rule than the scorer's.
    """
    labels, outcomes_read, invalid_outcomes = read_labels(outcomes)
    max_bytes = max_event_bytes
    seen: set[str] = set()
    columns: dict[str, list[Any]] = {name: [] for name in FEATURES}
    ids: list[str] = []
    times: list[float] = []
    churned: list[int] = []
    places: list[tuple[str, int, int]] = []
    read = invalid = duplicates = unlabelled = 0
    for record in events:
        read += 1
        try:
            event = parse_event(record.value(), max_bytes)
        except InvalidEvent:
            invalid += 1
            continue
        place = coordinates(record)
        event_id = event.get("event_id") or "{}:{}:{}".format(*place)
        if event_id in seen:
            duplicates += 1
            continue
        seen.add(event_id)
        label = labels.get(event_id)
        if label is None:
            unlabelled += 1
            continue
        when = event.get("event_time")
        if when is None:
            times.append(record.timestamp()[1] / 1000.0)
        else:
            times.append((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
        for name in NUMERIC_FEATURES:
            columns[name].append(event[name])
        columns["contract_type"].append(str(event["contract_type"]))
        ids.append(event_id)
        churned.append(label)
        places.append(place)

    labelled = len(ids)
    order = np.argsort(np.asarray(times, dtype=np.float64), kind="stable")
    t = np.asarray(times, dtype=np.float64)[order]
    keep = np.ones(labelled, dtype=bool)
    if config.lookback_s is not None:
        since = (now - timedelta(seconds=config.lookback_s)).timestamp()
        keep &= t >= since
    if config.max_events is not None:
        keep[: max(0, labelled - config.max_events)] = False
    chosen = order[keep]
    rows = len(chosen)
    y = np.asarray(churned, dtype=np.int64)[chosen]
    _check_enough(rows, y, config, labelled=labelled, unlabelled=unlabelled, invalid=invalid)

    frame = pd.DataFrame(
        {
            name: np.asarray(columns[name], dtype=_DTYPES.get(name, np.float64))[chosen]
            for name in NUMERIC_FEATURES
        }
    )
    frame["contract_type"] = np.asarray(columns["contract_type"], dtype=object)[chosen]
    frame[TARGET] = y
    frame[EVENT_ID] = np.asarray(ids, dtype=object)[chosen]
    micros = np.rint(t[keep] * 1e6).astype(np.int64)  # whole microseconds, as RFC 3339 has
    frame[EVENT_TIME] = pd.to_datetime(micros, unit="us", utc=True)
    lineage = DataLineage(
        rows=rows,
        positives=int(y.sum()),
        first_event_time=frame[EVENT_TIME].iloc[0].to_pydatetime(),
        last_event_time=frame[EVENT_TIME].iloc[-1].to_pydatetime(),
        event_offsets=_offsets([places[i] for i in chosen]),
        events_read=read,
        invalid_events=invalid,
        duplicate_events=duplicates,
        unlabelled_events=unlabelled,
        outside_lookback=labelled - rows,
        outcomes_read=outcomes_read,
        invalid_outcomes=invalid_outcomes,
    )
    return LabelledDataset(frame.reset_index(drop=True), lineage)


def _check_enough(
    rows: int, y: Any, config: RetrainConfig, *, labelled: int, unlabelled: int, invalid: int
) -> None:
    counts = f"{labelled} labelled, {unlabelled} unlabelled, {invalid} invalid events"
    if rows < config.min_labelled_rows:
        raise NotEnoughLabelledData(
            f"{rows} labelled events in the lookback, at least {config.min_labelled_rows} "
            f"needed ({counts})",
            rows=rows,
            required=config.min_labelled_rows,
        )
    positives = int(y.sum())
    smaller = min(positives, rows - positives)
    if smaller < config.min_class_rows:
        raise NotEnoughLabelledData(
            f"{positives} churned and {rows - positives} retained events: each class needs "
            f"at least {config.min_class_rows}",
            rows=rows,
            required=config.min_labelled_rows,
        )


def _offsets(places: list[tuple[str, int, int]]) -> tuple[PartitionOffsets, ...]:
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for topic, partition, offset in places:
        lo, hi = spans.get((topic, partition), (offset, offset))
        spans[(topic, partition)] = (min(lo, offset), max(hi, offset))
    return tuple(
        PartitionOffsets(topic=topic, partition=partition, first_offset=lo, last_offset=hi)
        for (topic, partition), (lo, hi) in sorted(spans.items())
    )
