"""Drift watchers that scale by partitions, on the real broker: 1, 2 and 3 watchers in
one group, as separate processes, give the same windows, verdicts and alerts; a watcher
killed (SIGKILL) or added mid-stream loses and repeats nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from core.drift.alert import DriftAlert
from core.drift.window_record import DriftWindow
from core.kafka.admin import ensure_topics
from core.kafka.config import consumer_config, producer_config
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.scenarios import FeatureShift
from tests.drift_pipeline import run
from tests.integration.kafka_io import produce_json, read_committed, settings_env
from tests.stubs import StubRecord

pytestmark = pytest.mark.integration

EVENTS = 9000
Seen = tuple[str, str, int, str, tuple[str, ...]]


def configure(settings: Settings) -> None:
    settings.drift.window_kind = "event-time"
    settings.drift.window_seconds = 1.0
    settings.drift.allowed_lateness_s = 0.2
    settings.drift.min_window_events = 500
    settings.drift.batch_size = 700
    settings.drift.batch_timeout_ms = 100
    settings.drift.idle_partition_s = 600.0  # a fixed backlog: no partition is quiet
    settings.registry.poll_s = 0.5


def events(n: int, start: int = 0) -> list[dict[str, Any]]:
    gen = ChurnGenerator(
        seed=31, scenarios=[FeatureShift(feature="monthly_charges", shift=35.0, start_event=4000)]
    )
    return [e for e, _ in gen.events(n, start)]


def close_every_window(settings: Settings, after: datetime) -> None:
    """One event per partition an hour later: every window of the stream closes."""
    producer = Producer(producer_config(settings))
    template = events(1)[0]
    for p in range(settings.kafka.partitions):
        late = {**template, "customer_id": f"closer-{p}", "event_time": after.isoformat()}
        producer.produce(settings.topics.events, json.dumps(late).encode(), partition=p)
    assert producer.flush(30) == 0


def read_back(settings: Settings, expected: int) -> list[StubRecord]:
    """The events topic as the watchers see it: partitions and offsets included."""
    consumer = Consumer(consumer_config(settings, f"readback-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([settings.topics.events])
    out: list[StubRecord] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    out.append(StubRecord(m.topic(), m.partition(), m.offset(), m.value()))
    finally:
        consumer.close()
    return sorted(out, key=lambda r: (r.partition(), r.offset()))


def as_seen(value: bytes) -> Seen:
    w = DriftWindow.model_validate_json(value)
    return (
        w.window_start.isoformat(),
        w.window_end.isoformat(),
        w.events,
        w.verdict,
        tuple(w.drifting_features),
    )


def expected(settings: Settings, records: list[StubRecord]) -> tuple[list[Seen], list[str]]:
    """What one watcher without Kafka makes of the same records."""
    windows, alerts = run(settings, records, settings.kafka.partitions, watchers=1)
    ids = [DriftAlert.model_validate_json(a.value).alert_id for a in alerts]
    return [(w.start, w.end, w.events, w.verdict, w.drifting) for w in windows], ids


def group(settings: Settings, tag: str) -> Settings:
    """The same input, a group of its own: own group ids, state, shares and outputs."""
    s = settings.model_copy(deep=True)
    s.drift.group_id = f"{settings.drift.group_id}-{tag}"
    for name in ("drift_state", "drift_partials", "drift_windows", "alerts"):
        setattr(s.topics, name, f"{getattr(settings.topics, name)}-{tag}")
    ensure_topics(s)
    return s


class Watchers:
    def __init__(self, settings: Settings, logs: Path) -> None:
        self._settings, self._logs = settings, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        env = settings_env(self._settings)
        env["STREAMSCORE_DRIFT__INSTANCE_ID"] = name
        env["STREAMSCORE_DRIFT__HTTP_PORT"] = "0"
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "streamscore", "drift", "run"],
            env=env,
            stdout=(self._logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_started(self, name: str, timeout_s: float = 60) -> None:
        log = self._logs / f"{name}.log"
        deadline = time.monotonic() + timeout_s
        while "drift_started" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)

    def judging(self) -> str:
        """The watcher that judges now: the last to be given the partials partition."""
        last: tuple[str, str] = ("", "")
        for name in self.procs:
            for line in (self._logs / f"{name}.log").read_text().splitlines():
                if '"judge_assigned"' in line:
                    at = json.loads(line)["timestamp"]
                    last = max(last, (at, name))
        return last[1]

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(30)

    def stop_all(self) -> dict[str, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return {name: proc.wait(60) for name, proc in self.procs.items()}

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self._logs.glob("*.log")))


@contextmanager
def watchers(settings: Settings, logs: Path) -> Iterator[Watchers]:
    logs.mkdir(parents=True, exist_ok=True)
    w = Watchers(settings, logs)
    try:
        yield w
    finally:
        codes = w.stop_all()
        killed = {n for n, c in codes.items() if c == -signal.SIGKILL}
        assert all(c == 0 for n, c in codes.items() if n not in killed), (codes, w.logs()[-4000:])


def judged(settings: Settings, n: int, timeout_s: float = 60) -> list[Seen]:
    records = read_committed(settings, settings.topics.drift_windows, n, timeout_s, idle_s=5)
    return [as_seen(r.value()) for r in records]


def alert_ids(settings: Settings) -> list[str]:
    return [
        DriftAlert.model_validate_json(r.value()).alert_id
        for r in read_committed(settings, settings.topics.alerts, 0, 5, idle_s=1)
    ]


def publish(settings: Settings, start: int, n: int, close: bool = False) -> None:
    part = events(n, start)
    produce_json(settings, settings.topics.events, part)
    if close:
        close_every_window(settings, datetime.fromisoformat(part[-1]["event_time"]) + HOUR)


HOUR = timedelta(hours=1)


@pytest.fixture
def stream(settings: Settings, register_model: Callable[..., int]) -> list[StubRecord]:
    register_model()
    configure(settings)
    publish(settings, 0, EVENTS, close=True)
    return read_back(settings, EVENTS + settings.kafka.partitions)


def test_one_two_and_three_watchers_give_the_same_windows_verdicts_and_alerts(
    settings: Settings, stream: list[StubRecord], tmp_path: Path
) -> None:
    want, want_alerts = expected(settings, stream)
    assert len(want_alerts) == 1
    results = {}
    for n in (1, 2, 3):
        s = group(settings, f"n{n}")
        with watchers(s, tmp_path / f"n{n}") as w:
            for i in range(n):
                w.start(f"w{i}")
            results[n] = (judged(s, len(want)), alert_ids(s))
    for n, (seen, ids) in results.items():
        assert seen == want, n
        assert ids == want_alerts, n


def test_a_watcher_killed_or_added_mid_stream_loses_and_repeats_nothing(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    register_model()
    configure(settings)
    settings.drift.batch_size = 100
    third = EVENTS // 3
    with watchers(settings, tmp_path / "churn") as w:
        w.start("a")
        publish(settings, 0, third)
        read_committed(settings, settings.topics.drift_windows, 1, timeout_s=90, idle_s=0)
        w.start("b")
        w.wait_started("b")
        publish(settings, third, third)
        time.sleep(2)
        w.kill(w.judging())  # the judge's and some partitions' work, mid-batch
        w.start("c")
        publish(settings, 2 * third, EVENTS - 2 * third, close=True)
        want, want_alerts = expected(settings, read_back(settings, EVENTS + 3))
        seen = judged(settings, len(want), timeout_s=150)
        w.wait_started("c")
    assert seen == want
    assert alert_ids(settings) == want_alerts


def test_a_stream_that_pauses_past_the_idle_time_loses_and_repeats_no_window(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    """Every partition goes quiet with a window open: announced idle, each still holds
    that window, and the stream that resumes on one partition first closes it whole."""
    register_model()
    configure(settings)
    settings.drift.idle_partition_s = 2.0
    half = EVENTS // 2
    with watchers(settings, tmp_path / "pause") as w:
        w.start("a")
        publish(settings, 0, half)
        deadline = time.monotonic() + 90
        while w.logs().count('"partitions_idle"') == 0 or not _all_idle(w.logs(), settings):
            assert time.monotonic() < deadline, w.logs()[-3000:]
            time.sleep(0.5)
        rest = events(EVENTS - half, half)
        _to_partition_zero(settings, rest[: len(rest) // 6])
        time.sleep(3)  # partition 0 runs ahead while the others are still idle
        produce_json(settings, settings.topics.events, rest[len(rest) // 6 :])
        close_every_window(settings, datetime.fromisoformat(rest[-1]["event_time"]) + HOUR)
        want, want_alerts = expected(settings, read_back(settings, EVENTS + 6))
        seen = judged(settings, len(want), timeout_s=120)
    assert seen == want
    assert alert_ids(settings) == want_alerts


def _all_idle(logs: str, settings: Settings) -> bool:
    told: set[int] = set()
    for line in logs.splitlines():
        if '"partitions_idle"' in line:
            told.update(json.loads(line)["partitions"])
    return told >= set(range(settings.kafka.partitions))


def _to_partition_zero(settings: Settings, batch: list[dict[str, Any]]) -> None:
    producer = Producer(producer_config(settings))
    for e in batch:
        producer.produce(settings.topics.events, json.dumps(e).encode(), partition=0)
    assert producer.flush(30) == 0
