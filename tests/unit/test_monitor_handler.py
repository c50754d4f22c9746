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
