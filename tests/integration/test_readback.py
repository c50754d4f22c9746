"""Reading labelled data back from the real broker: ranges, ends, transactions, the join."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from core.kafka.config import producer_config
from core.kafka.readback import ReadbackError, read_back
from core.retraining.config import RetrainConfig
from core.retraining.dataset import EVENT_ID, build_dataset
from core.settings import Settings, ValidationConfig
from producers.generator import ChurnGenerator
from producers.outcomes import outcome_value

MAX_EVENT_BYTES = ValidationConfig().max_event_bytes
"""The shared rule every reader of the input applies."""

pytestmark = pytest.mark.integration

STEP_MS = 10
"""Record timestamps of consecutive events are this far apart."""


def produce_labelled(
    settings: Settings, n: int, *, seed: int = 5, start_index: int = 0, base_ms: int
) -> dict[str, int]:
    """`n` events and their outcomes, event i stamped `base_ms + i * STEP_MS`; returns
    the true label of every event id."""
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    failed: list[str] = []
    labels: dict[str, int] = {}

    def send(topic: str, key: bytes, value: bytes, stamp: int) -> None:
        while True:
            try:
                producer.produce(
                    topic,
                    key=key,
                    value=value,
                    timestamp=stamp,
                    on_delivery=lambda err, _m: failed.append(str(err)) if err else None,
                )
                return
            except BufferError:
                producer.poll(0.1)

    events = ChurnGenerator(seed).events(n, start_index)
    for i, (event, churned) in enumerate(events):
        stamp = base_ms + (start_index + i) * STEP_MS
        key = event["customer_id"].encode()
        send(settings.topics.events, key, json.dumps(event).encode(), stamp)
        observed = datetime.fromtimestamp(stamp / 1000, UTC) + timedelta(days=30)
        value = outcome_value(event["event_id"], event["customer_id"], churned, observed)
        send(settings.topics.outcomes, key, value, stamp)
        labels[event["event_id"]] = churned
    assert producer.flush(30) == 0
    assert not failed, failed[:3]
    return labels


@pytest.fixture
def base_ms() -> int:
    """Ten minutes ago: inside any broker's accepted timestamp range."""
    return int(time.time() * 1000) - 600_000


def test_a_whole_topic_reads_back_and_joins_into_the_right_rows(settings, base_ms):
    labels = produce_labelled(settings, 3000, base_ms=base_ms)
    seen: list[tuple[int, int]] = []
    events = read_back(settings, settings.topics.events, progress=lambda r, e: seen.append((r, e)))
    outcomes = read_back(settings, settings.topics.outcomes)
    assert len(events.records) == len(outcomes.records) == 3000
    assert sum(r.size for r in events.ranges) == 3000
    assert seen[-1] == (3000, 3000)
    config = RetrainConfig(min_labelled_rows=100, lookback_s=None, max_events=None)
    data = build_dataset(
        events.records,
        outcomes.records,
        config,
        now=datetime.now(UTC),
        max_event_bytes=MAX_EVENT_BYTES,
    )
    assert len(data.frame) == 3000
    joined = dict(zip(data.frame[EVENT_ID], data.frame["churned"], strict=True))
    assert joined == labels
    assert {o.partition for o in data.lineage.event_offsets} == {0, 1, 2}


def test_since_starts_each_partition_at_the_first_record_that_new(settings, base_ms):
    produce_labelled(settings, 2000, base_ms=base_ms)
    since = datetime.fromtimestamp((base_ms + 1500 * STEP_MS) / 1000, UTC)
    back = read_back(settings, settings.topics.events, since=since)
    ids = sorted(int(json.loads(m.value())["event_id"].split("-e")[1]) for m in back.records)
    assert ids == list(range(1500, 2000))


def test_a_time_newer_than_every_record_reads_nothing_and_returns_at_once(settings, base_ms):
    produce_labelled(settings, 300, base_ms=base_ms)
    back = read_back(settings, settings.topics.events, since=datetime.now(UTC))
    assert back.records == []
    assert all(r.size == 0 for r in back.ranges)


def test_last_n_reads_the_newest_records_of_each_partition(settings, base_ms):
    produce_labelled(settings, 1500, base_ms=base_ms)
    whole = read_back(settings, settings.topics.events)
    back = read_back(settings, settings.topics.events, last_n=100)
    assert len(back.records) == 300
    for r in back.ranges:
        full = next(w for w in whole.ranges if w.partition == r.partition)
        assert (r.start, r.end) == (full.end - 100, full.end)
    offsets = {(m.partition(), m.offset()) for m in back.records}
    assert offsets == {(r.partition, o) for r in back.ranges for o in range(r.start, r.end)}


def test_records_produced_during_a_read_back_are_left_for_the_next(settings, base_ms):
    produce_labelled(settings, 1200, base_ms=base_ms)
    more: list[int] = []

    def produce_more(read: int, expected: int) -> None:
        if not more:
            more.append(1)
            produce_labelled(settings, 600, start_index=1200, base_ms=base_ms)

    back = read_back(settings, settings.topics.events, progress=produce_more, batch_size=100)
    assert more
    assert len(back.records) == 1200
    assert len(read_back(settings, settings.topics.events).records) == 1800


def test_read_committed_skips_an_open_transaction_and_its_markers(settings, unique):
    topic = settings.topics.predictions
    producer = Producer(producer_config(settings, transactional_id=f"readback-{unique}"))
    producer.init_transactions(10)
    producer.begin_transaction()
    for i in range(90):
        producer.produce(topic, key=str(i).encode(), value=b"committed", partition=i % 3)
    producer.commit_transaction(10)
    producer.begin_transaction()
    for i in range(30):
        producer.produce(topic, key=str(i).encode(), value=b"open", partition=i % 3)
    producer.flush(10)
    try:
        back = read_back(settings, topic, timeout_s=30)
        assert len(back.records) == 90
        assert {m.value() for m in back.records} == {b"committed"}
    finally:
        producer.abort_transaction(10)
    assert len(read_back(settings, topic, timeout_s=30).records) == 90


def test_a_missing_topic_is_a_named_error(settings):
    with pytest.raises(ReadbackError, match="cannot read back"):
        read_back(settings, f"no-such-topic-{uuid.uuid4().hex[:8]}", timeout_s=10)
