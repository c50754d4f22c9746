"""The monitor's handler without Kafka: an aborted batch leaves no trace in the figures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from consumers.performance import Baselines, MonitorHandler, MonitorMetrics
from core.kafka.changelog import CheckpointStore
from core.performance.decoding import Side
from core.settings import Settings
from tests.stubs import StubRecord

T0 = 1_800_000_000_000


def handler(settings: Settings) -> MonitorHandler:
    store = CheckpointStore(settings, settings.topics.monitor_state, settings.monitor.group_id)
    h = MonitorHandler(settings, MonitorMetrics(CollectorRegistry()), store, Baselines(settings))
    h.monitor.assign(0)  # what on_assigned does when the changelog has nothing yet
    return h


def batch(settings: Settings, start: int, n: int) -> list[StubRecord]:
    out = []
    for i in range(start, start + n):
        p = (i % 10) / 10
        prediction = {
            "event_id": f"e{i}",
            "customer_id": f"c{i}",
            "prediction": int(p >= 0.5),
            "probability": p,
            "risk_level": "low",
            "model_name": "churn",
            "model_version": 1,
            "scored_at": "2027-01-15T08:00:00Z",
        }
        outcome = {
            "event_id": f"e{i}",
            "customer_id": f"c{i}",
            "churned": i % 3 == 0,
            "observed_at": "2027-01-15T08:00:01Z",
        }
        outcome["churned"] = int(outcome["churned"])
        ts = T0 + i * 10
        out.append(
            StubRecord(
                settings.topics.predictions,
                0,
                2 * i,
                json.dumps(prediction).encode(),
                timestamp_ms=ts,
            )
        )
        out.append(
            StubRecord(
                settings.topics.outcomes,
                0,
                2 * i + 1,
                json.dumps(outcome).encode(),
                timestamp_ms=ts + 5,
            )
        )
    return out


def test_an_aborted_batch_is_undone_so_its_replay_counts_each_pair_once(tmp_path: Path) -> None:
    settings = Settings(registry={"path": tmp_path / "registry"}, state_dir=tmp_path)
    first, second = batch(settings, 0, 100), batch(settings, 100, 100)

    h = handler(settings)
    h.process(first)
    h.batch_committed()
    h.process(second)
    h.batch_aborted()
    h.process(second)
    h.batch_committed()

    once = handler(settings)
    once.process(first)
    once.batch_committed()
    once.process(second)
    once.batch_committed()

    assert once.monitor.counts().paired == 200
    assert h.monitor.counts() == once.monitor.counts()
    assert h.monitor.buffered() == once.monitor.buffered()


def live(settings: Settings, n: int, skew_ms: int) -> list[StubRecord]:
    """`batch`'s events as a live stream delivers them: each outcome's record stamped
    `skew_ms` after its prediction's (the outcome producer's clock runs on while the
    scorer stamps predictions with their event's time)."""
    records = batch(settings, 0, n)
    return [
        StubRecord(
            r.topic_, r.partition_, r.offset_, r.value_, timestamp_ms=r.timestamp_ms + skew_ms
        )
        if r.topic_ == settings.topics.outcomes
        else r
        for r in records
    ]


def test_at_label_delay_0_a_live_stream_holds_neither_topic(tmp_path: Path) -> None:
    """With `label_delay_s = 0` the hold's slack was 0, so the topic a few milliseconds
    ahead was paused after every batch (and each pause drops what the client fetched);
    in the secured-cluster run no performance window ever closed."""
    settings = Settings(
        registry={"path": tmp_path / "registry"},
        state_dir=tmp_path,
        monitor={"label_delay_s": 0.0, "window_seconds": 1.0},
    )
    h = handler(settings)
    records = live(settings, 200, skew_ms=3)
    for k in range(0, len(records), 50):
        h.process(records[k : k + 50])
        h.batch_committed()
        assert h.held() == set()
        assert h.unread(records[k + 50 : k + 100]) == {}
    assert h.monitor.counts().paired == 200


def test_a_topic_far_ahead_inside_one_batch_is_left_unread_past_the_buffer_room(
    tmp_path: Path,
) -> None:
    """A backlog's batch can hold minutes of predictions before any outcome: those past
    the room the join buffer has are left unread (rewound by the processor), and the
    topic is held until the outcomes catch up."""
    settings = Settings(
        registry={"path": tmp_path / "registry"},
        state_dir=tmp_path,
        monitor={"label_delay_s": 0.0, "max_buffer": 40},
    )
    h = handler(settings)
    h.monitor.assign(0, waiting=["predictions", "outcomes"])
    predictions = [r for r in batch(settings, 0, 100) if r.topic_ == settings.topics.predictions]
    unread = h.unread(predictions)
    assert unread == {(settings.topics.predictions, 0): predictions[30].offset_}  # 75 % of 40
    assert h.held() == {(settings.topics.predictions, 0)}
    h.process(predictions[:30])
    h.batch_committed()
    assert h.held() == {(settings.topics.predictions, 0)}
    outcomes = [r for r in batch(settings, 0, 100) if r.topic_ == settings.topics.outcomes]
    assert h.unread(outcomes[:30]) == {}
    h.process(outcomes[:30])
    h.batch_committed()
    assert h.monitor.counts().paired == 30
    assert h.held() == set()


def per_record_unread(h: MonitorHandler, batch: list[StubRecord]) -> dict[tuple[str, int], int]:
    """`MonitorHandler.unread`'s rule read record by record, as it was first written:
    what the one working from the decoded batch is held to."""
    side: dict[str, Side] = {h._topics.predictions: "predictions", h._topics.outcomes: "outcomes"}
    latest: dict[tuple[str, int], int] = {}
    for record in batch:
        key, stamp = (record.topic(), record.partition()), record.timestamp()[1]
        if stamp > latest.get(key, -1):
            latest[key] = stamp
    seen = {(p, side[t]): stamp / 1000 for (t, p), stamp in latest.items() if t in side}
    limits = h.monitor.limits(h._slack, seen)
    topic = {"predictions": h._topics.predictions, "outcomes": h._topics.outcomes}
    wanted = {(topic[s], p): (after * 1000, room) for (p, s), (after, room) in limits.items()}
    out: dict[tuple[str, int], int] = {}
    beyond: dict[tuple[str, int], int] = {}
    for record in batch:
        key = (record.topic(), record.partition())
        limit = wanted.get(key)
        if limit is None or key in out:
            continue
        if record.timestamp()[1] > limit[0]:
            beyond[key] = n = beyond.get(key, 0) + 1
            if n > limit[1]:
                out[key] = record.offset()
                h.monitor.leave_unread(key[1], side[key[0]], record.timestamp()[1] / 1000)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    read=st.integers(0, 60),
    skew_s=st.sampled_from([0.0, 3.0, 20.0, 90.0]),
    cap=st.sampled_from([20, 40, 400]),
)
def test_unread_leaves_the_same_records_as_a_per_record_reading_of_its_rule(
    tmp_path_factory: pytest.TempPathFactory, seed: int, read: int, skew_s: float, cap: int
) -> None:
    tmp = tmp_path_factory.mktemp("unread")
    config = Settings(
        registry={"path": tmp / "registry"},
        state_dir=tmp,
        monitor={"label_delay_s": 10.0, "max_buffer": cap},
    )
    rng = random.Random(seed)
    valid = [{r.topic_: r.value_ for r in batch(config, i, 1)} for i in range(80)]
    streams: list[list[StubRecord]] = []
    for side, topic in enumerate((config.topics.predictions, config.topics.outcomes)):
        for p in range(3):
            at = T0 + int(side * skew_s * 1000) + rng.randrange(0, 5_000)
            streams.append([])
            for offset in range(rng.randrange(0, 80)):
                at += rng.choice([-200, 0, 50, 400, 1_000])
                good = valid[offset][topic].replace(b'"e', f'"p{p}-'.encode(), 1)
                value = good if rng.random() < 0.8 else b'{"event_id": "bad"}'
                stamp = -1 if rng.random() < 0.03 else at
                streams[-1].append(StubRecord(topic, p, offset, value, timestamp_ms=stamp))
    records = []  # as consumed: each topic-partition in offset order, runs of them mixed
    while any(streams):
        stream = rng.choice([s for s in streams if s])
        run = rng.randrange(1, 30)
        records += stream[:run]
        del stream[:run]
    decoding, reference = handler(config), handler(config)
    for h in (decoding, reference):
        h.monitor.assign(1, waiting=["outcomes"])
        h.monitor.assign(2)
        h.process(records[:read])
    got = decoding.unread(records[read:])
    want = per_record_unread(reference, records[read:])
    assert got == want
    event(f"left unread: {len(got)}")
    assert decoding.held() == reference.held()
    kept = [r for r in records[read:] if r.offset_ < got.get((r.topic_, r.partition_), 1 << 30)]
    assert decoding.process(kept) == reference.process(kept)  # the one decodes it again
    assert decoding.monitor.counts() == reference.monitor.counts()
