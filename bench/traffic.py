"""Input traffic for the benchmarks: a pre-loaded backlog, or a steady paced stream.

The paced stream stamps each record's Kafka create timestamp itself and remembers it per
key, so the latency of an output is measured from the input's own Kafka timestamp.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import Producer
from tqdm import tqdm

from core.kafka.config import producer_config
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import EventMessage, event_messages


def generate(n: int, *, seed: int, invalid_rate: float, start_index: int = 0) -> list[EventMessage]:
    """`n` generated messages, a seeded `invalid_rate` share of them invalid."""
    mix = InvalidMix(seed, invalid_rate) if invalid_rate > 0 else None
    generator = ChurnGenerator(seed=seed)
    return list(event_messages(generator, n, start_index=start_index, invalid=mix))


class _Delivery:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failed.append(err.str())


def _producer(settings: Settings, **overrides: Any) -> Producer:
    return Producer(
        producer_config(settings, **{"queue.buffering.max.messages": 500000, **overrides})
    )


def preload(
    settings: Settings, topic: str, messages: Sequence[EventMessage], progress: bool
) -> None:
    """Write the backlog every throughput pipeline then reads from the beginning."""
    producer = _producer(settings, **{"linger.ms": 20, "batch.size": 1_000_000})
    delivery = _Delivery()
    for m in tqdm(messages, desc="preload", unit="ev", disable=not progress, leave=False):
        while True:
            try:
                producer.produce(topic, value=m.value, key=m.key, on_delivery=delivery)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(60) or delivery.failed:
        raise RuntimeError(f"preload failed: {delivery.failed[:3] or 'flush timed out'}")


class PacedStream:
    """Produces `messages` at `rate` events/s in a thread; `created[key]` is the Kafka
    create timestamp (ms) given to the record with that key.

    `warm` sends a few records first through the same producer, so its connection and
    idempotent producer id are in place before the first timed record.
    """

    def __init__(
        self, settings: Settings, topic: str, messages: Iterable[EventMessage], rate: float
    ) -> None:
        self._producer = _producer(settings)
        self._delivery = _Delivery()
        self._topic = topic
        self._messages = list(messages)
        self._rate = rate
        self.created: dict[bytes, int] = {}
        self.started_ms = 0
        self.behind_s = 0.0
        """The most the stream ever lagged its schedule (a sign the driver was starved)."""
        self._thread = threading.Thread(target=self._run, name="paced-stream", daemon=True)

    def warm(self, messages: Sequence[EventMessage]) -> None:
        for m in messages:
            self._producer.produce(self._topic, value=m.value, key=m.key)
        if self._producer.flush(30):
            raise RuntimeError("warm-up records not delivered")

    def start(self) -> PacedStream:
        self.started_ms = int(time.time() * 1000)
        self._thread.start()
        return self

    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        if self._delivery.failed:
            raise RuntimeError(f"paced records not delivered: {self._delivery.failed[:3]}")

    def _run(self) -> None:
        producer, delivery, topic = self._producer, self._delivery, self._topic
        created = self.created
        interval = 1.0 / self._rate
        started = time.perf_counter()
        tick = 0.002
        i, n = 0, len(self._messages)
        while i < n:
            now = time.perf_counter()
            due = min(n, int((now - started) / interval) + 1)
            self.behind_s = max(self.behind_s, now - started - i * interval)
            while i < due:
                m = self._messages[i]
                ts = int(time.time() * 1000)
                producer.produce(
                    topic, value=m.value, key=m.key, timestamp=ts, on_delivery=delivery
                )
                if m.key is not None:
                    created[m.key] = ts
                i += 1
            producer.poll(0)
            next_due = started + i * interval
            time.sleep(max(0.0, min(tick, next_due - time.perf_counter())))
        producer.flush(30)
