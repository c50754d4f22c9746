"""The retrainer's lookback, read back from Kafka: recent events and their outcomes.

Both topics are read from `now - retrain.lookback_s` by record timestamp (the broker
indexes only that; `build_dataset` then selects by event time). Events are also capped
at the last `retrain.max_events` offsets per partition, an upper bound on what the
dataset keeps. Outcomes are not capped: an outcome comes after its event, so every
outcome of a kept event is at or after the same `since`.

The lookback therefore needs both topics to retain at least `lookback_s` of records
(`retention.ms`), and the outcomes topic that plus the outcome delay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.kafka.readback import read_back
from core.retraining.job import LabelledRecords, ReadLabelled
from core.settings import Settings


def reader(settings: Settings, *, timeout_s: float = 120.0) -> ReadLabelled:
    """`read(now)` for `core.retraining.job.RetrainJob`, on these settings."""
    config = settings.retrain

    def read(now: datetime) -> LabelledRecords:
        since = now - timedelta(seconds=config.lookback_s) if config.lookback_s else None
        events = read_back(
            settings,
            settings.topics.events,
            since=since,
            last_n=config.max_events,
            timeout_s=timeout_s,
        )
        outcomes = read_back(settings, settings.topics.outcomes, since=since, timeout_s=timeout_s)
        return LabelledRecords(events.records, outcomes.records, events.seconds + outcomes.seconds)

    return read
