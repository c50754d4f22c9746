"""Baseline (c): the transport's own limit in Python, with no parsing at all.

Batch-consume the input (what the consumer holds, waiting only when it holds nothing) and
re-produce the same key and value bytes to one output topic,
with the project's producer defaults (idempotent, acks=all, lz4, linger 5 ms); offsets are
committed once, at the end. Whatever the scorer does on top of this is its own cost.

Run as a subprocess by `scoring_bench.py`:
    python bench/passthrough.py SETTINGS.json --group G --output T [--max-events N]
"""

from __future__ import annotations

import argparse
import contextlib

from bench_settings import read_settings
from confluent_kafka import Consumer, KafkaException, Producer

from core.kafka.config import consumer_config, producer_config
from core.logging import configure_logging
from core.shutdown import stop_on_signals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("settings")
    parser.add_argument("--group", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--max-events", type=int)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--batch-timeout-ms", type=int, default=50)
    args = parser.parse_args()
    settings = read_settings(args.settings)
    configure_logging("passthrough", level="warning", fmt="json")
    stop = stop_on_signals()

    consumer = Consumer(consumer_config(settings, args.group))
    producer = Producer(producer_config(settings, **{"queue.buffering.max.messages": 500000}))
    consumer.subscribe([settings.topics.events])
    produce, poll, output = producer.produce, producer.poll, args.output
    timeout = args.batch_timeout_ms / 1000
    seen = 0
    while not stop.is_set() and (args.max_events is None or seen < args.max_events):
        # What the consumer holds now; wait (up to the timeout) only when it holds nothing.
        batch = consumer.consume(args.batch_size, 0)
        if not batch:
            first = consumer.poll(timeout)
            batch = [] if first is None else [first]
        for msg in batch:
            if msg.error() is not None:
                continue
            while True:
                try:
                    produce(output, value=msg.value(), key=msg.key())
                    break
                except BufferError:
                    poll(0.05)
            seen += 1
        poll(0)
    producer.flush(30)
    with contextlib.suppress(KafkaException):  # nothing consumed: nothing to commit
        consumer.commit(asynchronous=False)
    consumer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
