"""When each output becomes visible to a `read_committed` reader, and what that implies.

The reader is what a downstream service would be: a plain consumer with
`isolation.level=read_committed`, assigned every partition of the output topic from the
beginning (no group join to wait for). It notes the wall-clock time each batch of
records is handed to it; throughput is taken from the first to the last arrival, latency
from an input's Kafka create timestamp to its output's arrival.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from tqdm import tqdm

from core.kafka.config import consumer_config
from core.settings import Settings

_POLL_S = 0.002
"""Longest a reader call waits for more records: the resolution of an arrival time."""


@dataclass
class Arrivals:
    """Arrival times (s since the epoch) of the outputs read, with their keys and their own
    Kafka timestamps (ms) when asked for."""

    times: list[float] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    output_ts_ms: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)

    def span_rate(self) -> float:
        """Outputs per second from the first arrival to the last; the records that arrived
        with the first one are not counted (they took no measured time)."""
        if len(self.times) < 2:
            return 0.0
        t = np.asarray(self.times)
        first, last = float(t.min()), float(t.max())
        if last <= first:
            return 0.0
        return float(np.count_nonzero(t > first)) / (last - first)

    def span_seconds(self) -> float:
        return float(max(self.times) - min(self.times)) if len(self.times) > 1 else 0.0


class OutputReader:
    def __init__(
        self, settings: Settings, topic: str, partitions: int, keep_keys: bool = False
    ) -> None:
        self._keep_keys = keep_keys
        self._consumer = Consumer(
            consumer_config(
                settings,
                f"bench-reader-{uuid.uuid4().hex[:8]}",
                **{"fetch.wait.max.ms": 100, "enable.partition.eof": False},
            )
        )
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )
        # Connect and fetch metadata now, not when the pipeline's first output lands.
        self._consumer.consume(1, 0.5)
        self.arrivals = Arrivals()

    def read(
        self,
        *,
        expected: int | None,
        done: Callable[[], bool],
        timeout_s: float,
        idle_s: float = 2.0,
        progress: str | None = None,
        on_first: Callable[[], None] | None = None,
    ) -> Arrivals:
        """Read until `expected` outputs arrived, or `done()` and `idle_s` of silence, or
        `timeout_s` passed. `on_first` is called when the first output arrives (say, to
        take a pipeline's CPU seconds at the start of the measured span)."""
        a = self.arrivals
        consume = self._consumer.consume
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        bar = tqdm(total=expected, desc=progress, unit="out", disable=progress is None, leave=False)
        try:
            while time.monotonic() < deadline:
                batch = consume(10_000, _POLL_S)
                now = time.time()
                if batch:
                    good = [m for m in batch if m.error() is None]
                    if on_first is not None and good and not a.times:
                        on_first()
                    a.times.extend([now] * len(good))
                    if self._keep_keys:
                        a.keys.extend(m.key() for m in good)
                        a.output_ts_ms.extend(m.timestamp()[1] for m in good)
                    bar.update(len(good))
                    quiet_since = time.monotonic()
                if expected is not None and len(a) >= expected:
                    break
                if done() and time.monotonic() - quiet_since >= idle_s:
                    break
        finally:
            bar.close()
        return a

    def close(self) -> None:
        self._consumer.close()


def latencies_ms(
    arrivals: Arrivals, created: dict[bytes, int], since_ms: int
) -> tuple[np.ndarray, np.ndarray]:
    """(visible, produced) latencies in ms of outputs whose input was created at or after
    `since_ms`: visible = arrival at the reader, produced = the output's own Kafka
    timestamp, each minus the input's Kafka create timestamp."""
    visible, produced = [], []
    for t, key, out_ts in zip(arrivals.times, arrivals.keys, arrivals.output_ts_ms, strict=True):
        if key is None:
            continue
        c = created.get(key)
        if c is None or c < since_ms:
            continue
        visible.append(t * 1000 - c)
        produced.append(out_ts - c)
    return np.asarray(visible), np.asarray(produced)
