"""Labelled rows from read-back events and outcomes: validated, joined, selected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.features import FEATURES, TARGET
from core.retraining.config import RetrainConfig
from core.retraining.dataset import EVENT_ID, EVENT_TIME, build_dataset, read_labels
from core.retraining.exceptions import NotEnoughLabelledData
from core.settings import ValidationConfig
from core.validation import InvalidEvent, parse_event
from producers.outcomes import outcome_value
from tests.stubs import StubRecord
from tests.unit.retrain_records import EVENTS, labelled_records, now_after

MAX_EVENT_BYTES = ValidationConfig().max_event_bytes
"""The shared rule every reader of the input applies."""

LOOSE = RetrainConfig(min_labelled_rows=50, min_class_rows=2, lookback_s=None, max_events=None)


def test_every_labelled_event_becomes_one_row_with_its_features_and_label():
    events, outcomes = labelled_records(600)
    data = build_dataset(
        events, outcomes, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 600
    assert list(data.frame.columns) == [*FEATURES, TARGET, EVENT_ID, EVENT_TIME]
    first = json.loads(events[0].value_)
    row = data.frame[data.frame[EVENT_ID] == first["event_id"]].iloc[0]
    assert row["age"] == first["age"]
    assert row["contract_type"] == first["contract_type"]
    assert data.frame["age"].dtype.kind == "i"
    labels, _, _ = read_labels(outcomes)
    assert row[TARGET] == labels[first["event_id"]]


def test_rows_are_ordered_by_event_time_and_the_range_is_recorded():
    events, outcomes = labelled_records(300)
    data = build_dataset(
        list(reversed(events)),
        outcomes,
        LOOSE,
        now=now_after(events),
        max_event_bytes=MAX_EVENT_BYTES,
    )
    times = data.frame[EVENT_TIME]
    assert times.is_monotonic_increasing
    assert data.lineage.first_event_time == times.iloc[0].to_pydatetime()
    assert data.lineage.last_event_time == times.iloc[-1].to_pydatetime()


def test_events_without_an_outcome_are_left_out_not_counted_as_negative():
    events, outcomes = labelled_records(600, label_every=3)
    data = build_dataset(
        events, outcomes, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 200
    assert data.lineage.unlabelled_events == 400


def test_an_event_the_scorer_would_dead_letter_never_trains():
    events, outcomes = labelled_records(200)
    bad_bodies = [b"", b"not json", b'{"customer_id": "x"}', json.dumps({"age": 300}).encode()]
    for body in bad_bodies:
        with pytest.raises(InvalidEvent):
            parse_event(body or None, MAX_EVENT_BYTES)
    bad = [StubRecord(EVENTS, 0, 10_000 + i, body or None) for i, body in enumerate(bad_bodies)]
    data = build_dataset(
        [*events, *bad], outcomes, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 200
    assert data.lineage.invalid_events == len(bad_bodies)


def test_an_event_without_an_event_id_is_joined_on_topic_partition_offset():
    events, outcomes = labelled_records(100)
    body = json.loads(events[0].value_)
    del body["event_id"], body["event_time"]
    newest = events[-1].timestamp_ms
    anonymous = StubRecord(EVENTS, 2, 777, json.dumps(body).encode(), timestamp_ms=newest)
    label = outcome_value(f"{EVENTS}:2:777", "someone", 1, datetime.now(UTC))
    labelled = [*outcomes, StubRecord("customer-outcomes", 0, 999, label)]
    data = build_dataset(
        [*events, anonymous],
        labelled,
        LOOSE,
        now=now_after(events),
        max_event_bytes=MAX_EVENT_BYTES,
    )
    row = data.frame[data.frame[EVENT_ID] == f"{EVENTS}:2:777"]
    assert len(row) == 1
    assert row.iloc[0][TARGET] == 1
    assert row.iloc[0][EVENT_TIME].timestamp() == pytest.approx(newest / 1000)


def test_a_repeated_event_id_counts_once_at_its_first_offset():
    events, outcomes = labelled_records(100)
    again = StubRecord(EVENTS, 0, 5000, events[0].value_, timestamp_ms=events[0].timestamp_ms)
    data = build_dataset(
        [*events, again], outcomes, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 100
    assert data.lineage.duplicate_events == 1
    assert max(o.last_offset for o in data.lineage.event_offsets) < 5000


def test_invalid_outcomes_are_counted_and_ignored():
    events, outcomes = labelled_records(100)
    junk = [StubRecord("customer-outcomes", 0, 900, b"{}"), StubRecord("o", 0, 901, None)]
    data = build_dataset(
        events, [*outcomes, *junk], LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 100
    assert data.lineage.invalid_outcomes == 2


def test_only_the_last_n_labelled_events_are_kept():
    events, outcomes = labelled_records(600)
    config = LOOSE.model_copy(update={"max_events": 250})
    data = build_dataset(
        events, outcomes, config, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    everything = build_dataset(
        events, outcomes, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    assert len(data.frame) == 250
    assert list(data.frame[EVENT_ID]) == list(everything.frame[EVENT_ID].iloc[-250:])
    assert data.lineage.outside_lookback == 350


def test_only_events_within_the_lookback_are_kept():
    events, outcomes = labelled_records(1000)  # 1,000 events a second of event time
    now = now_after(events)
    config = LOOSE.model_copy(update={"lookback_s": 0.5 + 1.0})  # now is 1 s past the newest
    data = build_dataset(events, outcomes, config, now=now, max_event_bytes=MAX_EVENT_BYTES)
    assert 450 <= len(data.frame) <= 550
    assert data.frame[EVENT_TIME].min().to_pydatetime() >= now - timedelta(seconds=1.5)


def test_offsets_per_partition_cover_exactly_the_rows_kept():
    events, outcomes = labelled_records(600, partitions=3)
    config = LOOSE.model_copy(update={"max_events": 300})
    data = build_dataset(
        events, outcomes, config, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
    )
    spans = {o.partition: (o.first_offset, o.last_offset) for o in data.lineage.event_offsets}
    assert spans == {0: (100, 199), 1: (100, 199), 2: (100, 199)}


def test_too_few_labelled_rows_is_a_named_error_with_the_counts():
    events, outcomes = labelled_records(300, label_every=10)
    config = LOOSE.model_copy(update={"min_labelled_rows": 100})
    with pytest.raises(NotEnoughLabelledData, match="30 labelled events") as caught:
        build_dataset(
            events, outcomes, config, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
        )
    assert (caught.value.rows, caught.value.required) == (30, 100)
    assert caught.value.hint


def test_a_single_class_is_not_enough_labelled_data():
    events, outcomes = labelled_records(200)
    churned_only = [o for o in outcomes if json.loads(o.value_)["churned"] == 1]
    with pytest.raises(NotEnoughLabelledData, match="each class"):
        build_dataset(
            events, churned_only, LOOSE, now=now_after(events), max_event_bytes=MAX_EVENT_BYTES
        )
