"""Baseline (a): the scoring loop as a hand-written consumer would write it.

One message at a time: poll, `json.loads`, validate with the contract's `CustomerEvent`,
`predict` and `predict_proba` on a one-row DataFrame, produce one prediction, commit the
message synchronously. Invalid messages are forwarded unchanged to a dead-letter topic.
`CustomerEvent` is strict, so the dict from `json.loads` (used for the key and to reject
non-objects) is validated with `model_validate_json` on the same bytes, which is what
makes the contract's JSON rules apply; the extra parse costs microseconds next to the
model's milliseconds.

Run as a subprocess by `scoring_bench.py`:
    python bench/naive_loop.py SETTINGS.json --group G --output T --max-events N
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from bench_settings import read_settings
from confluent_kafka import Consumer, Producer
from pydantic import ValidationError

from core.features import FEATURES
from core.kafka.config import consumer_config, producer_config
from core.logging import configure_logging
from core.registry import ModelRegistry
from core.schemas import CustomerEvent, RiskLevel
from core.shutdown import stop_on_signals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("settings")
    parser.add_argument("--group", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--max-events", type=int)
    args = parser.parse_args()
    settings = read_settings(args.settings)
    configure_logging("naive", level="warning", fmt="json")
    stop = stop_on_signals()
    model, info = ModelRegistry(settings.registry.path).production(settings.registry.model_name)

    consumer = Consumer(consumer_config(settings, args.group))
    producer = Producer(producer_config(settings))
    consumer.subscribe([settings.topics.events])
    seen = 0
    while not stop.is_set() and (args.max_events is None or seen < args.max_events):
        msg = consumer.poll(0.5)
        if msg is None or msg.error() is not None:
            continue
        raw = msg.value() or b""
        try:
            payload: Any = json.loads(raw)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            event = CustomerEvent.model_validate_json(raw)
        except (ValueError, ValidationError):
            producer.produce(settings.topics.dlq, value=raw, key=msg.key())
        else:
            row = pd.DataFrame([event.model_dump(mode="json")])[list(FEATURES)]
            label = int(model.predict(row)[0])
            probability = float(model.predict_proba(row)[0, 1])
            prediction = {
                "event_id": event.event_id or f"{msg.topic()}:{msg.partition()}:{msg.offset()}",
                "customer_id": event.customer_id,
                "prediction": label,
                "probability": probability,
                "risk_level": RiskLevel.of(probability).value,
                "model_name": info.name,
                "model_version": info.version,
                "scored_at": datetime.now(UTC).isoformat(),
            }
            producer.produce(
                args.output,
                value=json.dumps(prediction).encode(),
                key=payload["customer_id"].encode(),
            )
        producer.poll(0)
        consumer.commit(message=msg, asynchronous=False)
        seen += 1
    producer.flush(30)
    consumer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
