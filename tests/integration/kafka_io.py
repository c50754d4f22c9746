"""Small helpers that integration tests use to write to and read from the real broker."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, Producer

from core.kafka.config import consumer_config, producer_config
from core.settings import Settings


def produce(settings: Settings, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    failed: list[str] = []
    n = 0
    for key, value in records:
        while True:
            try:
                producer.produce(
                    topic,
                    key=key,
                    value=value,
                    on_delivery=lambda err, _m: failed.append(err.str()) if err else None,
                )
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    assert producer.flush(30) == 0
    assert not failed, failed[:3]
    return n


def produce_json(settings: Settings, topic: str, events: Iterable[dict[str, Any]]) -> int:
    return produce(
        settings,
        topic,
        ((str(e.get("customer_id", "")).encode() or None, json.dumps(e).encode()) for e in events),
    )


def read_committed(
    settings: Settings, topic: str, expected: int, timeout_s: float = 60.0, idle_s: float = 3.0
) -> list[Any]:
    """Every record of `topic` a read_committed reader sees: waits for `expected` records,
    then keeps reading for `idle_s` more so that duplicates would show up too."""
    consumer = Consumer(consumer_config(settings, f"reader-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, 0.5)
            out.extend(m for m in batch if m.error() is None)
            if len(out) >= expected:
                if quiet_until is None:
                    quiet_until = time.monotonic() + idle_s
                elif time.monotonic() >= quiet_until:
                    break
    finally:
        consumer.close()
    return out


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}
    for section, values in settings.model_dump(mode="json").items():
        if isinstance(values, dict):
            for key, value in values.items():
                if value is not None:
                    text = value if isinstance(value, str) else json.dumps(value)
                    env[f"STREAMSCORE_{section.upper()}__{key.upper()}"] = text
        else:
            env[f"STREAMSCORE_{section.upper()}"] = str(values)
    env["STREAMSCORE_LOGGING__FORMAT"] = "json"
    return env


@contextmanager
def running(
    service: Callable[[Settings, threading.Event], None], settings: Settings
) -> Iterator[None]:
    """Run a consumer loop (`run_scorer`, `run_drift`) in a thread for the block's duration;
    on exit stop it and fail the test if it crashed or did not stop within 60 s."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            service(settings, stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive(), "the service did not stop within 60 s"
        assert not errors, errors
