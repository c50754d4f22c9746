"""Drift watcher ingest rate versus a plain consume of the same topic, in one run.

    python bench/drift_ingest_bench.py [--events 1000000] [--reps 3] [--json OUT]

Against the real broker (KAFKA_BOOTSTRAP_SERVERS, or a local KRaft broker started for
the run), N generated events are loaded once; then (a) a plain consumer reads them all in
batches without parsing (the transport's limit) and (b) the drift watcher (`run_drift`:
validation, windowing, transactional checkpoints) ingests the same topic in its own
group. The figure is (b)/(a); the target is >= 0.5. A ratio, not a timed test.

Use a million events or more: librdkafka prefetches up to 64 MB per consumer before the
first batch is returned, and with 200,000 events (about 50 MB) a plain consume then only
drains its local queue, which measured 3x faster than reading from the broker and made
the baseline bimodal from run to run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from broker import bench_broker
from confluent_kafka import Consumer, Producer

from consumers.drift import run_drift
from core.kafka.admin import ensure_topics
from core.kafka.config import consumer_config, producer_config
from core.kafka.local_broker import free_port
from core.logging import configure_logging
from core.registry import ModelRegistry
from core.settings import Settings
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages


def load(settings: Settings, n: int) -> int:
    producer = Producer(producer_config(settings, **{"linger.ms": 50, "batch.size": 1_000_000}))
    for m in event_messages(ChurnGenerator(seed=3), n, invalid=InvalidMix(seed=3, rate=0.02)):
        while True:
            try:
                producer.produce(settings.topics.events, key=m.key, value=m.value)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(120) == 0
    return n


def plain_consume(settings: Settings, n: int) -> float:
    consumer = Consumer(consumer_config(settings, f"plain-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([settings.topics.events])
    seen, started = 0, None
    while seen < n:
        batch = consumer.consume(5000, 1.0)
        if batch and started is None:
            started = time.perf_counter()
        seen += sum(1 for m in batch if m.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return n / elapsed


def drift_ingest(settings: Settings, n: int) -> float:
    port = free_port()
    settings.drift.http_port = port
    stop = threading.Event()
    thread = threading.Thread(target=run_drift, args=(settings, stop), daemon=True)
    thread.start()
    started = None
    try:
        while True:
            consumed = _consumed(port)
            if consumed > 0 and started is None:
                started, first = time.perf_counter(), consumed
            if consumed >= n:
                break
            time.sleep(0.05)
        batches = _metric(port, 'streamscore_batch_size_count{consumer="drift"}')
        print(f"    drift: {batches:.0f} batches, mean {n / max(batches, 1):,.0f} events")
    finally:
        stop.set()
        thread.join(60)
    assert started is not None
    return (n - first) / (time.perf_counter() - started)


def _consumed(port: int) -> float:
    return _metric(port, 'streamscore_records_consumed_total{consumer="drift"}')


def _metric(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return 0.0
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args()
    configure_logging("bench", "warning", "json")
    with tempfile.TemporaryDirectory() as tmp, bench_broker(Path(tmp)) as broker:
        bootstrap = broker.bootstrap
        run = uuid.uuid4().hex[:6]
        settings = Settings(
            kafka={"bootstrap_servers": bootstrap},
            topics={
                "events": f"bench-events-{run}",
                "drift_state": f"bench-state-{run}",
                "alerts": f"bench-alerts-{run}",
            },
            drift={
                "group_id": f"bench-drift-{run}",
                "window_kind": "count",
                "window_events": 10_000,
            },
            registry={"path": Path(tmp) / "registry"},
            state_dir=Path(tmp),
        )
        ensure_topics(settings)
        registry = ModelRegistry(settings.registry.path)
        trained = train_and_evaluate(ChurnGenerator(seed=1).reference(5000), "logistic", 1)
        v = trained.register(registry, "churn", {}, trigger="bench").version
        registry.promote("churn", v, "production", "bench")
        print(f"loading {args.events:,} events ...", flush=True)
        load(settings, args.events)
        plains, drifts = [], []
        for rep in range(args.reps):
            plains.append(plain_consume(settings, args.events))
            settings.drift.group_id = f"bench-drift-{run}-{rep}"
            drifts.append(drift_ingest(settings, args.events))
            print(f"rep {rep + 1}: plain {plains[-1]:,.0f}/s, drift {drifts[-1]:,.0f}/s")
        plain, drift = statistics.median(plains), statistics.median(drifts)
    rows = {
        "plain_consume_events_per_s": round(plain),
        "drift_ingest_events_per_s": round(drift),
        "ratio": round(drift / plain, 3),
        "events": args.events,
    }
    print(
        f"\n| path | events/s | ratio |\n|---|---:|---:|\n"
        f"| plain consume (no parsing) | {plain:,.0f} | 1.00 |\n"
        f"| drift watcher ingest | {drift:,.0f} | {drift / plain:.2f} |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
