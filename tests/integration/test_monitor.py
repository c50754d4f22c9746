"""The performance monitor against the real broker: concept drift alerts while the drift
watcher stays quiet, a stable stream does not, and neither arrival order, missing labels
nor a SIGKILL and restart changes a figure."""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer

from consumers.drift import run_drift
from consumers.performance import run_monitor
from consumers.scorer import run_scorer
from core.kafka.admin import NotCoPartitioned, TopicSpec, check_reachable, ensure_topics
from core.kafka.changelog import CheckpointStore
from core.kafka.config import producer_config
from core.kafka.exceptions import TopicError
from core.kafka.producer import CheckedProducer
from core.performance.partitions import PartitionedMonitor
from core.performance.records import PerformanceAlert, PerformanceWindow
from core.schemas import Outcome, Prediction, RiskLevel
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.messages import event_messages
from producers.publisher import PublishReport, publish
from producers.scenarios import ConceptDrift
from tests.integration.kafka_io import read_committed, running, settings_env

pytestmark = pytest.mark.integration

Row = tuple[bytes, bytes, int]
"""(key, value, record timestamp in ms)."""


def configure(settings: Settings, *, window_s: float = 2.0, delay_s: float = 3.0) -> None:
    settings.monitor.window_seconds = window_s
    settings.monitor.label_delay_s = delay_s
    settings.monitor.batch_timeout_ms = 200
    settings.registry.poll_s = 0.5


def monitoring(settings: Settings) -> AbstractContextManager[None]:
    return running(run_monitor, settings)


def windows(messages: Iterable[object]) -> list[PerformanceWindow]:
    return [PerformanceWindow.model_validate_json(m.value()) for m in messages]  # type: ignore[attr-defined]


def restored(settings: Settings) -> PartitionedMonitor:
    """The monitor as its last committed checkpoints describe it."""
    store = CheckpointStore(settings, settings.topics.monitor_state, settings.monitor.group_id)
    monitor = PartitionedMonitor(settings.monitor)
    for partition, state in store.restore(range(settings.kafka.partitions)).items():
        assert partition is not None
        monitor.assign(partition, state)
    return monitor


def read_predictions(monitor: PartitionedMonitor) -> int:
    """Predictions the monitor has read, whatever became of them."""
    counts = monitor.counts()
    return counts.predictions + counts.late_predictions + counts.duplicate_predictions


def publish_stream(
    settings: Settings,
    generator: ChurnGenerator,
    n: int,
    start: int = 0,
    outcome_delay_s: float = 0.5,
) -> PublishReport:
    """`streamscore produce`'s path: events `start` to `start + n` at 1,000/s, each
    outcome `outcome_delay_s` later."""
    report = publish(
        CheckedProducer.from_settings(settings),
        event_messages(generator, n, start),
        events_topic=settings.topics.events,
        outcomes_topic=settings.topics.outcomes,
        outcome_delay_s=outcome_delay_s,
        rate=1000,
        progress=False,
    )
    assert report.ok, report.as_dict()
    return report


# ---------------------------------------------------------------------- scored streams


def test_concept_drift_raises_a_performance_alert_and_no_drift_alert(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    version = register_model()
    configure(settings)
    settings.drift.window_seconds = 2.0
    settings.drift.allowed_lateness_s = 0.5
    settings.drift.min_window_events = 500
    drift_from = 4000
    generator = ChurnGenerator(seed=31, scenarios=[ConceptDrift(start_event=drift_from)])
    with running(run_scorer, settings), running(run_drift, settings), monitoring(settings):
        drift_starts = time.time() + drift_from / 1000  # events go out at 1,000/s
        publish_stream(settings, generator, 12_000)
        alerts = read_committed(settings, settings.topics.performance_alerts, 1, timeout_s=60)
        judged = read_committed(settings, settings.topics.drift_state, 1, idle_s=2)
    assert judged
    assert len(alerts) == 1
    alert = PerformanceAlert.model_validate_json(alerts[0].value())
    assert (alert.model_version, alert.metric, alert.severity) == (version, "roc_auc", "high")
    assert alert.interval[1] < alert.threshold
    assert alert.baseline is not None
    assert alert.threshold == pytest.approx(max(0.70, alert.baseline - 0.05))
    assert alert.value < 0.5  # the relation turned round: ranking is worse than chance
    records = windows(read_committed(settings, settings.topics.performance, 4, idle_s=1))
    before = [w for w in records if w.window_end.timestamp() <= drift_starts]
    assert before
    assert not any(w.failing for w in before)
    assert alert.window_end.timestamp() <= drift_starts + 3 * settings.monitor.window_seconds
    assert read_committed(settings, settings.topics.alerts, 0, idle_s=1) == []


def test_a_stable_stream_raises_no_performance_alert(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    configure(settings)
    with running(run_scorer, settings), monitoring(settings):
        publish_stream(settings, ChurnGenerator(seed=32), 8_000)
        records = windows(read_committed(settings, settings.topics.performance, 2, idle_s=3))
    judged = [w for w in records if w.judged]
    assert len(judged) >= 2
    assert all(not w.failing for w in judged)
    assert all(w.metrics["roc_auc"] is not None and w.metrics["roc_auc"] > 0.75 for w in judged)
    assert all(w.coverage is not None and w.coverage > 0.95 for w in judged)
    assert read_committed(settings, settings.topics.performance_alerts, 0, idle_s=1) == []


def test_labels_that_arrive_with_their_events_are_joined_at_a_label_delay_of_zero(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    """`label_delay_s = 0` (labels known at once): outcomes produced with their events,
    the scorer started only once the monitor has read them all, as after a scorer
    outage. Every prediction still meets its outcome, each window is published once
    with all its labels, and live events after it close the first ones."""
    register_model()
    configure(settings, window_s=1.0, delay_s=0.0)
    settings.monitor.min_labels = 50
    generator = ChurnGenerator(seed=33)
    with monitoring(settings):
        first = publish_stream(settings, generator, 2_000, outcome_delay_s=0.0)
        labels = first.outcomes.acknowledged
        wait_for(lambda: restored(settings).counts().outcomes == labels)
        between = time.time()
        with running(run_scorer, settings):
            wait_for(lambda: read_predictions(restored(settings)) == 2_000, timeout_s=90)
            counts = restored(settings).counts()
            assert counts.late_predictions == counts.late_outcomes == 0
            assert (counts.paired, counts.orphaned, counts.unlabelled) == (labels, 0, 0)
            publish_stream(settings, generator, 2_000, start=2_000, outcome_delay_s=0.0)
            records = windows(read_committed(settings, settings.topics.performance, 2, idle_s=5))
    before = [w for w in records if w.window_start.timestamp() < between]
    assert before, "the monitor closed no performance window"
    assert sum(w.predictions for w in before) == 2_000
    assert sum(w.labelled_events for w in before) == labels
    assert len({w.window_start for w in records}) == len(records)  # each window once
    state = restored(settings)
    counts = state.counts()
    assert counts.predictions == 4_000
    assert counts.late_predictions == counts.late_outcomes == 0
    assert counts.duplicate_predictions == counts.duplicate_outcomes == 0
    assert counts.paired + counts.unlabelled + state.pending_predictions() == 4_000
    total = state.cumulative()[(settings.registry.model_name, 1)]
    assert (total.predictions, total.labelled) == (4_000, counts.paired)


# ---------------------------------------------------------------------- crafted records
#
# Predictions and outcomes written directly, with chosen record timestamps, so every
# figure is known in advance. 100 predictions/s from T0; event i's outcome is missing
# when i % 5 == 4; in block A (i < 300) the outcome's record comes first (0.5 s after
# the event, the prediction 1 s after: a slow scorer), elsewhere the prediction does.

N_EVENTS = 1_200
BLOCK_A = 300


def t0() -> float:
    """A recent window boundary, so the broker's retention keeps the records."""
    return math.floor(time.time() / 10) * 10 - 60


def crafted(start: float, indexes: range, side: str) -> list[Row]:
    rng = random.Random(41)
    probabilities = [rng.random() for _ in range(N_EVENTS)]
    labels = [int(rng.random() < p) for p in probabilities]
    rows: list[Row] = []
    for i in indexes:
        t = start + i / 100
        key = f"c{i % 113}".encode()
        p = probabilities[i]
        if side == "predictions":
            value = {
                "event_id": f"e{i}",
                "customer_id": key.decode(),
                "prediction": int(p >= 0.5),
                "probability": p,
                "risk_level": RiskLevel.of(p).value,
                "model_name": "churn",
                "model_version": 1,
                "scored_at": datetime.fromtimestamp(t, UTC).isoformat(),
            }
            at = t + (1.0 if i < BLOCK_A else 0.0)
        elif i % 5 == 4:
            continue
        else:
            value = {
                "event_id": f"e{i}",
                "customer_id": key.decode(),
                "churned": labels[i],
                "observed_at": datetime.fromtimestamp(t + 0.5, UTC).isoformat(),
            }
            at = t + 0.5
        rows.append((key, json.dumps(value).encode(), int(at * 1000)))
    return rows


def send(settings: Settings, topic: str, rows: list[Row]) -> None:
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    for key, value, timestamp in rows:
        producer.produce(topic, key=key, value=value, timestamp=timestamp)
    assert producer.flush(30) == 0


def crafted_settings(settings: Settings) -> Settings:
    configure(settings, window_s=2.0, delay_s=5.0)
    settings.monitor.min_labels = 50
    return settings


def expected(settings: Settings, start: float) -> list[PerformanceWindow]:
    """The window records of every crafted record fed to one monitor in one go."""
    monitor = PartitionedMonitor(settings.monitor)
    monitor.assign(0)
    for side, model in (("predictions", Prediction), ("outcomes", Outcome)):
        for _, value, at in crafted(start, range(N_EVENTS), side):
            record = model.model_validate_json(value)
            if side == "predictions":
                monitor.add_prediction(0, record, at / 1000)  # type: ignore[arg-type]
            else:
                monitor.add_outcome(0, record, at / 1000)  # type: ignore[arg-type]
    return [r.record for r in monitor.advance()]


def wait_for(check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the monitor's state"
        time.sleep(0.5)


def test_outcomes_before_predictions_and_missing_outcomes_are_joined_or_counted_once(
    settings: Settings,
) -> None:
    crafted_settings(settings)
    start = t0()
    labelled = sum(1 for i in range(N_EVENTS) if i % 5 != 4)
    early = range(BLOCK_A)
    with monitoring(settings):
        send(settings, settings.topics.outcomes, crafted(start, early, "outcomes"))
        wait_for(lambda: restored(settings).counts().outcomes == 240)
        assert restored(settings).counts().paired == 0  # the labels wait for predictions
        send(settings, settings.topics.predictions, crafted(start, early, "predictions"))
        rest = range(BLOCK_A, N_EVENTS)
        send(settings, settings.topics.predictions, crafted(start, rest, "predictions"))
        send(settings, settings.topics.outcomes, crafted(start, rest, "outcomes"))
        published = windows(read_committed(settings, settings.topics.performance, 3, idle_s=2))
    state = restored(settings)
    counts = state.counts()
    assert (counts.predictions, counts.outcomes, counts.paired) == (N_EVENTS, labelled, labelled)
    assert counts.orphaned == counts.late_predictions == counts.late_outcomes == 0
    assert counts.duplicate_predictions == counts.duplicate_outcomes == 0
    assert counts.unlabelled + state.pending_predictions() == N_EVENTS - labelled
    everything = published + [r.record for r in state.flush()]
    assert sum(w.predictions for w in everything) == N_EVENTS
    assert sum(w.labelled_events for w in everything) == labelled
    assert published == expected(settings, start)


def test_a_sigkill_mid_stream_and_a_restart_change_no_figure(
    settings: Settings, tmp_path: Path
) -> None:
    crafted_settings(settings)
    # The killed member leaves no goodbye: the group waits out its session before the
    # restarted monitor gets the partitions (45 s by default; 6 s is the broker minimum).
    settings.kafka.client = {"session.timeout.ms": "6000"}
    start = t0()
    half = range(N_EVENTS // 2)
    log = tmp_path / "monitor.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "monitor"],
        env=settings_env(settings),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        for side in ("predictions", "outcomes"):
            send(settings, getattr(settings.topics, side), crafted(start, half, side))
        wait_for(lambda: restored(settings).counts().predictions == len(half), timeout_s=90)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert restored(settings).counts().paired > 0, log.read_text()[-2000:]
    rest = range(N_EVENTS // 2, N_EVENTS)
    for side in ("predictions", "outcomes"):
        send(settings, getattr(settings.topics, side), crafted(start, rest, side))
    want = expected(settings, start)
    with monitoring(settings):
        got = windows(read_committed(settings, settings.topics.performance, len(want), idle_s=3))
    assert got == want
    counts = restored(settings).counts()
    assert counts.predictions == N_EVENTS
    assert counts.duplicate_predictions == counts.duplicate_outcomes == 0


def test_monitor_refuses_topics_with_different_partition_counts(settings: Settings) -> None:
    settings.topics.outcomes = f"{settings.topics.outcomes}-two"
    ensure_topics(settings, [TopicSpec(settings.topics.outcomes, 2, {})])
    admin = check_reachable(settings)
    wait_for(lambda: settings.topics.outcomes in admin.list_topics(timeout=10).topics)
    with pytest.raises(NotCoPartitioned, match="cannot join by key") as err:
        run_monitor(settings, threading.Event())
    assert isinstance(err.value, TopicError)
    assert "has 3" in str(err.value)
    assert "has 2" in str(err.value)


def test_two_monitors_in_one_group_give_the_figures_and_alerts_of_one(
    settings: Settings, tmp_path: Path
) -> None:
    """Each partition's windows go as shares to the group's one judge, which merges them
    once every partition is past: whoever owns which partition, the same records."""
    crafted_settings(settings)
    settings.monitor.idle_partition_s = 600.0  # a fixed backlog: no partition is quiet
    settings.monitor.floor = 0.99  # so that windows alert, and alerts are compared too
    start = t0()
    for side in ("predictions", "outcomes"):
        send(settings, getattr(settings.topics, side), crafted(start, range(N_EVENTS), side))
    one = PartitionedMonitor(settings.monitor)
    one.assign(0)
    for side, model in (("predictions", Prediction), ("outcomes", Outcome)):
        for _, value, at in crafted(start, range(N_EVENTS), side):
            record = model.model_validate_json(value)
            add = one.add_prediction if side == "predictions" else one.add_outcome
            add(0, record, at / 1000)  # type: ignore[operator]
    results = one.advance()
    want = [r.record for r in results]
    want_alerts = [(a.window_start, a.metric, a.severity) for r in results if (a := r.alert)]
    assert want
    assert want_alerts
    procs = []
    for i in range(2):
        env = {**settings_env(settings), "STREAMSCORE_MONITOR__INSTANCE_ID": f"m{i}"}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "streamscore", "monitor"],
                env=env,
                stdout=(tmp_path / f"m{i}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    try:
        got = windows(
            read_committed(settings, settings.topics.performance, len(want), 120, idle_s=5)
        )
        alerts = [
            PerformanceAlert.model_validate_json(m.value())
            for m in read_committed(settings, settings.topics.performance_alerts, 0, idle_s=1)
        ]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(60) for proc in procs]
    logs = "".join((tmp_path / f"m{i}.log").read_text()[-1500:] for i in range(2))
    assert codes == [0, 0], logs
    assert got == want
    assert [(a.window_start, a.metric, a.severity) for a in alerts] == want_alerts
