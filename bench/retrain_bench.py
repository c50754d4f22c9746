"""How long one retraining takes on 100,000 labelled events, step by step.

    .venv/bin/python bench/retrain_bench.py                  # 100,000 events
    .venv/bin/python bench/retrain_bench.py --events 20000   # quicker

Against a real broker (KAFKA_BOOTSTRAP_SERVERS, else a local KRaft broker started in a
temporary folder and stopped at the end). Pre-loads the events and outcomes topics
(not timed), then times what the retrainer will do for one alert: read both topics back
(`core.kafka.readback.read_back`), join (`core.retraining.dataset.build_dataset`), split,
fit and gate (`core.retraining.trainer.train_challenger`) against a champion trained on
the stable world; the events come from a concept-drifted world, so there is something
for the challenger to win.
Registration is left out (the consumer's part). Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer

from core.features import FEATURES, TARGET
from core.kafka.admin import ensure_topics
from core.kafka.config import producer_config
from core.kafka.local_broker import LocalBroker
from core.kafka.readback import read_back
from core.retraining.config import RetrainConfig
from core.retraining.dataset import build_dataset
from core.retraining.trainer import train_challenger
from core.settings import Settings, TopicsConfig, ValidationConfig
from core.training import build_pipeline
from producers.generator import ChurnGenerator
from producers.outcomes import outcome_value
from producers.scenarios import ConceptDrift

MAX_EVENT_BYTES = ValidationConfig().max_event_bytes
"""The shared rule every reader of the input applies."""


def preload(settings: Settings, n: int) -> None:
    producer = Producer(producer_config(settings, **{"linger.ms": 50, "batch.size": 1_000_000}))
    base_ms = int(time.time() * 1000) - 3_600_000
    drift = (ConceptDrift(strength=1.0),)
    for i, (event, churned) in enumerate(ChurnGenerator(9, drift).events(n)):
        stamp = base_ms + i * 10
        key = event["customer_id"].encode()
        observed = datetime.fromtimestamp(stamp / 1000, UTC) + timedelta(days=30)
        outcome = outcome_value(event["event_id"], event["customer_id"], churned, observed)
        for topic, value in (
            (settings.topics.events, json.dumps(event).encode()),
            (settings.topics.outcomes, outcome),
        ):
            while True:
                try:
                    producer.produce(topic, key=key, value=value, timestamp=stamp)
                    break
                except BufferError:
                    producer.poll(0.05)
    if producer.flush(60) != 0:
        raise SystemExit("preload: records were not acknowledged")


def measure(settings: Settings, n: int) -> dict[str, float]:
    reference = ChurnGenerator(seed=42).reference(20_000)
    champion = build_pipeline("logistic").fit(reference[list(FEATURES)], reference[TARGET])
    config = RetrainConfig(lookback_s=None, max_events=None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    events = read_back(settings, settings.topics.events)
    seconds["read_back_events"] = time.perf_counter() - started
    t = time.perf_counter()
    outcomes = read_back(settings, settings.topics.outcomes)
    seconds["read_back_outcomes"] = time.perf_counter() - t
    t = time.perf_counter()
    data = build_dataset(
        events.records,
        outcomes.records,
        config,
        now=datetime.now(UTC),
        max_event_bytes=MAX_EVENT_BYTES,
    )
    seconds["join"] = time.perf_counter() - t
    t = time.perf_counter()
    result = train_challenger(data, champion, config, parent_version=1, alert_ids=["bench"])
    seconds["train_and_gate"] = time.perf_counter() - t
    seconds |= {f"  {k}": v for k, v in result.timings.items()}
    seconds["total"] = time.perf_counter() - started
    print(f"rows {data.lineage.rows:,} of {len(events.records):,} events read")
    print(f"gate: passed={result.passed}; " + "; ".join(result.verdict.reasons))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="retrain-bench-") as tmp:
        workdir = Path(tmp)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        broker = None
        if not bootstrap:
            broker = LocalBroker(workdir / "broker")
            bootstrap = broker.start().bootstrap
        try:
            run = str(int(time.time()))
            topics = TopicsConfig(
                **{k: f"bench-{v}-{run}" for k, v in TopicsConfig().model_dump().items()}
            )
            settings = Settings(
                kafka={"bootstrap_servers": bootstrap, "partitions": args.partitions},
                topics=topics,
                state_dir=workdir / "state",
            )
            ensure_topics(settings)
            t = time.perf_counter()
            preload(settings, args.events)
            print(
                f"preloaded {args.events:,} events and outcomes in {time.perf_counter() - t:.1f} s"
            )
            for name, value in measure(settings, args.events).items():
                print(f"{name:<22} {value:7.2f} s")
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
