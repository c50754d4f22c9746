"""Performance monitor ingest versus a plain consume of the same records, in one run.

    python bench/monitor_bench.py [--predictions 500000] [--reps 1] [--json OUT]

Against the real broker (KAFKA_BOOTSTRAP_SERVERS, or a local KRaft broker started for
the run), N predictions and 0.9 N outcomes are loaded once onto `churn-predictions` and
`customer-outcomes` (6 partitions each), with record timestamps of a live stream:
1,000 predictions per second of event time, each outcome 5 s after its prediction. Then
(a) a plain consumer reads both topics in batches without parsing (the transport's
limit) and (b) the monitor (`run_monitor`: validation, the join, windows, judgement,
transactional checkpoints of every touched partition) ingests the same records in its
own group. The figure is (b)/(a); the target is >= 0.5. A ratio, not a timed test.

It also reports the state: the largest partition checkpoint the monitor wrote, and
the serialized size of one window holding 1,000,000 labelled predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
from broker import bench_broker
from confluent_kafka import Consumer, Producer

from consumers.performance import run_monitor
from core.kafka.admin import ensure_topics
from core.kafka.config import consumer_config, producer_config
from core.kafka.local_broker import free_port
from core.logging import configure_logging
from core.performance.join import LabelledPair
from core.performance.windows import PerformanceWindows
from core.settings import Settings

RATE = 1000.0
"""Predictions per second of event time."""
OUTCOME_DELAY_S = 5.0


def load(settings: Settings, n: int) -> int:
    """N predictions and their outcomes (90 % labelled); returns the record count."""
    producer = Producer(producer_config(settings, **{"linger.ms": 50, "batch.size": 1_000_000}))
    rng = random.Random(3)
    start = time.time() - n / RATE - 60
    records = 0

    def send(topic: str, key: bytes, value: bytes, at: float) -> None:
        while True:
            try:
                producer.produce(topic, key=key, value=value, timestamp=int(at * 1000))
                return
            except BufferError:
                producer.poll(0.05)

    for i in range(n):
        t = start + i / RATE
        p = rng.random()
        key = f"s3-c{i % 50_000}".encode()
        prediction = (
            f'{{"event_id":"s3-e{i}","customer_id":"{key.decode()}","prediction":{int(p >= 0.5)},'
            f'"probability":{p:.6f},"risk_level":"low","model_name":"churn","model_version":1,'
            f'"scored_at":"2026-01-01T00:00:00Z"}}'
        )
        send(settings.topics.predictions, key, prediction.encode(), t)
        records += 1
        if rng.random() < 0.9:
            outcome = (
                f'{{"event_id":"s3-e{i}","customer_id":"{key.decode()}",'
                f'"churned":{int(rng.random() < p)},"observed_at":"2026-01-01T00:00:05Z"}}'
            )
            send(settings.topics.outcomes, key, outcome.encode(), t + OUTCOME_DELAY_S)
            records += 1
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return records


def plain_consume(settings: Settings, n: int) -> tuple[float, float]:
    """(records/s, process CPU microseconds per record)."""
    consumer = Consumer(consumer_config(settings, f"plain-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([settings.topics.predictions, settings.topics.outcomes])
    seen, started, cpu = 0, None, 0.0
    while seen < n:
        batch = consumer.consume(5000, 1.0)
        if batch and started is None:
            started, cpu = time.perf_counter(), time.process_time()
        seen += sum(1 for m in batch if m.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    cpu = time.process_time() - cpu
    consumer.close()
    return n / elapsed, cpu / n * 1e6


def monitor_ingest(settings: Settings, n: int) -> tuple[float, float, float, float]:
    """(records/s, batches, largest checkpoint bytes, process CPU microseconds per
    record: every thread of this process, the judge's and librdkafka's included)."""
    port = free_port()
    settings.monitor.http_port = port
    stop = threading.Event()
    thread = threading.Thread(target=run_monitor, args=(settings, stop), daemon=True)
    thread.start()
    started = None
    first = cpu = 0.0
    try:
        while True:
            consumed = _metric(port, 'streamscore_records_consumed_total{consumer="monitor"}')
            if consumed > 0 and started is None:
                started, first, cpu = time.perf_counter(), consumed, time.process_time()
            if consumed >= n:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - (started or time.perf_counter())
        cpu = time.process_time() - cpu
        batches = _metric(port, 'streamscore_batch_size_count{consumer="monitor"}')
        checkpoint = _metric(port, "streamscore_monitor_checkpoint_bytes")
        paired = _metric(port, 'streamscore_monitor_join{outcome="paired"}')
        joined = {
            o: _metric(port, f'streamscore_monitor_join{{outcome="{o}"}}')
            for o in ("unlabelled", "orphaned", "late", "capped")
        }
        print(f"    join: {joined}")
        print(
            f"    monitor: {batches:.0f} batches, {paired:,.0f} pairs, "
            f"largest checkpoint {checkpoint:,.0f} B"
        )
    finally:
        stop.set()
        thread.join(60)
    return (n - first) / elapsed, batches, checkpoint, cpu / max(n - first, 1) * 1e6


def window_state_bytes(labelled: int = 1_000_000) -> tuple[int, int]:
    """(serialized bytes of one window of `labelled` pairs, of its empty version)."""
    rng = np.random.default_rng(5)
    p = rng.random(labelled)
    y = (rng.random(labelled) < p).astype(int)
    windows = PerformanceWindows(window_seconds=1e9, label_delay_s=0)
    empty = len(windows.to_bytes())
    for k in range(0, labelled, 100_000):
        pairs = [
            LabelledPair(f"e{i}", "churn", 1, float(p[i]), int(p[i] >= 0.5), int(y[i]), 1.0, 2.0)
            for i in range(k, min(k + 100_000, labelled))
        ]
        for _ in pairs:
            windows.add_prediction("churn", 1, 1.0)
        windows.add_pairs(pairs)
    return len(windows.to_bytes()), empty


def _metric(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return 0.0
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def bench_settings(bootstrap: str, tmp: Path, batch_size: int | None, run: str) -> Settings:
    """Topic names fresh for `run`, 60 s windows, 30 s label delay; also `monitor_threads.py`'s."""
    return Settings(
        kafka={"bootstrap_servers": bootstrap},
        topics={
            name: f"bench-{name}-{run}"
            for name in ("predictions", "outcomes", "performance", "monitor_state")
        }
        | {"performance_alerts": f"bench-palerts-{run}"},
        monitor={"window_seconds": 60, "label_delay_s": 30}
        | ({"batch_size": batch_size} if batch_size else {}),
        registry={"path": tmp / "registry"},
        state_dir=tmp,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=500_000)
    parser.add_argument("--reps", type=int, default=1, help="alternating repetitions")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--batch-size", type=int, help="monitor.batch_size (default: the setting's default)"
    )
    args = parser.parse_args()
    configure_logging("bench", "warning", "json")
    with tempfile.TemporaryDirectory() as tmp, bench_broker(Path(tmp)) as broker:
        bootstrap = broker.bootstrap
        run = uuid.uuid4().hex[:6]
        settings = bench_settings(bootstrap, Path(tmp), args.batch_size, run)
        ensure_topics(settings)
        print(f"loading {args.predictions:,} predictions and their outcomes ...", flush=True)
        records = load(settings, args.predictions)
        plains, monitors, checkpoints, plain_cpus, monitor_cpus = [], [], [], [], []
        for rep in range(args.reps):
            rate, plain_cpu = plain_consume(settings, records)
            plains.append(rate)
            plain_cpus.append(plain_cpu)
            settings.monitor.group_id = f"bench-monitor-{run}-{rep}"
            rate, _, checkpoint, monitor_cpu = monitor_ingest(settings, records)
            monitors.append(rate)
            monitor_cpus.append(monitor_cpu)
            checkpoints.append(checkpoint)
            print(
                f"rep {rep + 1}: plain {plains[-1]:,.0f}/s ({plain_cpu:.2f} CPU us/record), "
                f"monitor {monitors[-1]:,.0f}/s ({monitor_cpu:.2f} CPU us/record), "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        plain, monitor = statistics.median(plains), statistics.median(monitors)
        plain_cpu = statistics.median(plain_cpus)
        monitor_cpu = statistics.median(monitor_cpus)
    window_bytes, empty_bytes = window_state_bytes()
    rows = {
        "records": records,
        "plain_consume_records_per_s": round(plain),
        "monitor_ingest_records_per_s": round(monitor),
        "ratio": round(monitor / plain, 3),
        "plain_consume_cpu_us_per_record": round(plain_cpu, 2),
        "monitor_ingest_cpu_us_per_record": round(monitor_cpu, 2),
        "largest_partition_checkpoint_bytes": round(max(checkpoints)),
        "window_state_bytes_1m_labelled": window_bytes,
        "window_state_bytes_empty": empty_bytes,
    }
    print(
        f"\n| path | records/s | ratio | CPU us/record |\n|---|---:|---:|---:|\n"
        f"| plain consume of both topics (no parsing) | {plain:,.0f} | 1.00 | {plain_cpu:.2f} |\n"
        f"| performance monitor ingest (joined) | {monitor:,.0f} | {monitor / plain:.2f} "
        f"| {monitor_cpu:.2f} |\n"
        f"\nlargest partition checkpoint: {max(checkpoints):,.0f} bytes; "
        f"one window of 1,000,000 labelled predictions: {window_bytes:,} bytes serialized "
        f"({empty_bytes:,} empty)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
