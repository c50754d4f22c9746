"""A scorer whose broker disappears still stops promptly when asked to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from consumers.scorer import run_scorer
from core.kafka.admin import ensure_topics
from core.kafka.local_broker import LocalBroker
from core.settings import Settings
from producers.generator import ChurnGenerator
from tests.integration.kafka_io import produce_json, read_committed

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_stop_is_honoured_within_bounded_time_after_the_broker_dies(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    broker = LocalBroker(tmp_path / "own-broker")
    settings.kafka.bootstrap_servers = broker.start().bootstrap
    settings.kafka.timeout_s = 3
    try:
        ensure_topics(settings)
        register_model()
        produce_json(
            settings, settings.topics.events, [e for e, _ in ChurnGenerator(3).events(500)]
        )
        stop = threading.Event()
        thread = threading.Thread(target=run_scorer, args=(settings, stop), daemon=True)
        thread.start()
        assert len(read_committed(settings, settings.topics.predictions, 500, idle_s=0)) == 500
        produce_json(
            settings, settings.topics.events, [e for e, _ in ChurnGenerator(4).events(500)]
        )
        broker.stop()
        time.sleep(2)
        asked = time.monotonic()
        stop.set()
        thread.join(90)
        assert not thread.is_alive(), "the scorer did not stop after the broker died"
        assert time.monotonic() - asked < 90
    finally:
        broker.stop()
