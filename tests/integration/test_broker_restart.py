"""A broker that crashes mid-stream and comes back on the same port and data: the scorer
and the drift watcher resume, keep exactly-once, and still stop promptly when asked.

The broker's SIGKILL and restart is what made librdkafka's send_offsets_to_transaction
block for good (its group coordinator was a decommissioned broker object), so this is
also the test of the processor's bounded waits and of its new-producer recovery.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Message, Producer

from consumers.drift import run_drift
from consumers.scorer import run_scorer
from core.kafka.admin import ensure_topics
from core.kafka.config import producer_config
from core.kafka.local_broker import LocalBroker
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import EventMessage, event_messages
from tests.integration.drift_state import committed, judged_events
from tests.integration.kafka_io import read_committed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVENTS = 6000
WINDOW = 1000
STOP_BOUND_S = 30.0


class Service:
    """A consumer loop in a thread, with its own stop event and any exception it raised."""

    def __init__(self, fn: Callable[[Settings, threading.Event], None], settings: Settings):
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn, settings), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[Settings, threading.Event], None], settings: Settings) -> None:
        try:
            fn(settings, self.stop)
        except BaseException as exc:
            self.error = exc


def publish(
    settings: Settings, messages: list[EventMessage], first: threading.Event, rest: threading.Event
) -> None:
    """About 2,000 events/s through one idempotent producer that rides out the outage: a
    third, then (`first` set) a pause until `rest` is set, then the others."""
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    failed: list[str] = []

    def report(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failed.append(err.str())

    for i, m in enumerate(messages):
        while True:
            try:
                producer.produce(settings.topics.events, m.value, m.key, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 100 == 99:
            producer.poll(0)
            time.sleep(0.05)
        if i == len(messages) // 3:
            first.set()
            assert rest.wait(120)
    assert producer.flush(120) == 0, "events still unacknowledged 120 s after the last"
    assert not failed, failed[:3]


@pytest.mark.parametrize(
    "down_s",
    [
        6.0,
        # Longer than the transaction timeout (10 s): the broker aborts the open
        # transactions itself and bumps the producers' epochs, so the clients' retried
        # calls fail fatally (_FENCED) and each gets a new producer.
        14.0,
    ],
)
def test_scorer_and_watcher_resume_exactly_once_after_the_broker_is_killed_and_restarted(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path, down_s: float
) -> None:
    broker = LocalBroker(tmp_path / "own-broker")
    port = broker.start().port
    settings.kafka.bootstrap_servers = f"127.0.0.1:{port}"
    settings.kafka.timeout_s = 3
    settings.scorer.instance_id = "restart-test"
    settings.registry.poll_s = 0.5
    settings.drift.window_kind = "count"
    settings.drift.window_events = WINDOW
    settings.drift.batch_size = 500
    settings.drift.batch_timeout_ms = 100
    services: list[Service] = []
    try:
        ensure_topics(settings)
        register_model()
        messages = list(event_messages(ChurnGenerator(seed=31), EVENTS, 0, InvalidMix(31, 0.03)))
        valid = {m.event_id for m in messages if m.event_id is not None}
        invalid = len(messages) - len(valid)
        assert len(valid) == sum(1 for m in messages if m.invalid is None)
        assert invalid > 0

        services = [Service(run_scorer, settings), Service(run_drift, settings)]
        first, rest = threading.Event(), threading.Event()
        publisher = threading.Thread(target=publish, args=(settings, messages, first, rest))
        publisher.start()
        assert first.wait(60)
        read_committed(settings, settings.topics.predictions, 1, idle_s=0)
        rest.set()
        crashed = broker.kill()
        assert crashed is not None
        time.sleep(down_s)
        assert broker.start(port=port).data_dir == crashed.data_dir
        publisher.join(180)
        assert not publisher.is_alive()

        predictions = read_committed(
            settings, settings.topics.predictions, len(valid), timeout_s=120, idle_s=3
        )
        deadline = time.monotonic() + 120

        def settled() -> bool:
            windows = committed(settings)
            if windows.seen < len(valid):
                return False
            return windows.open_events + sum(judged_events(settings, 0.5)) >= len(valid)

        while not settled() and time.monotonic() < deadline:
            time.sleep(1)

        for service in services:
            service.stop.set()
        asked = time.monotonic()
        for service in services:
            service.thread.join(max(0.0, asked + STOP_BOUND_S - time.monotonic()))
        assert not any(s.thread.is_alive() for s in services), "not stopped within 30 s"
        assert [s.error for s in services] == [None, None]

        ids = Counter(json.loads(m.value())["event_id"] for m in predictions)
        assert set(ids) == valid
        assert max(ids.values()) == 1, "an event was scored twice"
        dead = read_committed(settings, settings.topics.dlq, invalid, idle_s=1)
        assert len(dead) == invalid

        final = committed(settings)
        assert final.seen == len(valid), "the watcher lost or double-counted events"
        assert final.late_events == 0
        assert final.open_events + sum(judged_events(settings)) == len(valid)
    finally:
        for service in services:
            service.stop.set()
        broker.stop()
