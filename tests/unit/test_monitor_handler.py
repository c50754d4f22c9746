"""The monitor's handler without Kafka: an aborted batch leaves no trace in the figures."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.performance import Baselines, MonitorHandler, MonitorMetrics
from core.kafka.changelog import CheckpointStore
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
