"""CPU cost of `MonitorHandler.unread` and `process` alone, per record, without Kafka.

Splits the monitor's end-to-end figure (`monitor_bench.py`) into what the handler costs
(decoding, the join, windows, checkpoints) and what is left for the transport. The same
records as the end-to-end bench (1,000 predictions per second of event time, 90 %
labelled 5 s later, 6 partitions), as the client's own `Message` objects interleaved
the way a backlog is read, fed in batches to a real `MonitorHandler` whose checkpoint
store only builds records, in a heap set up as `run_monitor` sets it (`core.heap`):

    python bench/monitor_micro.py [--predictions 200000] [--batch 20000] [--profile OUT]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path

from confluent_kafka import Message
from prometheus_client import CollectorRegistry

from consumers.performance import Baselines, MonitorHandler, MonitorMetrics
from core.heap import fewer_full_collections, freeze_heap
from core.kafka.changelog import CheckpointStore
from core.settings import Settings

PARTITIONS = 6


def records(settings: Settings, n: int) -> list[Message]:
    """Predictions and outcomes per partition, merged in timestamp order."""
    rng = random.Random(3)
    start = time.time() - n / 1000 - 60
    out: list[tuple[float, int, Message]] = []
    offsets: dict[tuple[str, int], int] = {}

    def add(topic: str, partition: int, value: str, at: float) -> None:
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        record = Message(
            topic=topic,
            partition=partition,
            offset=offset,
            value=value.encode(),
            timestamp=(1, int(at * 1000)),  # 1: the producer's create time
        )
        out.append((at, len(out), record))

    for i in range(n):
        t = start + i / 1000
        p = rng.random()
        part = i % PARTITIONS
        key = f"s3-c{i % 50_000}"
        add(
            settings.topics.predictions,
            part,
            f'{{"event_id":"s3-e{i}","customer_id":"{key}","prediction":{int(p >= 0.5)},'
            f'"probability":{p:.6f},"risk_level":"low","model_name":"churn","model_version":1,'
            f'"scored_at":"2026-01-01T00:00:00Z"}}',
            t,
        )
        if rng.random() < 0.9:
            add(
                settings.topics.outcomes,
                part,
                f'{{"event_id":"s3-e{i}","customer_id":"{key}",'
                f'"churned":{int(rng.random() < p)},"observed_at":"2026-01-01T00:00:05Z"}}',
                t + 5,
            )
    out.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in out]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--profile", metavar="OUT", help="write a cProfile of the run here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="monitor-micro-"))
    settings = Settings(
        monitor={"window_seconds": 60, "label_delay_s": 30},
        registry={"path": tmp / "registry"},
        state_dir=tmp,
    )
    data = records(settings, args.predictions)
    store = CheckpointStore(settings, settings.topics.monitor_state, settings.monitor.group_id)
    handler = MonitorHandler(
        settings, MonitorMetrics(CollectorRegistry()), store, Baselines(settings)
    )
    for p in range(PARTITIONS):  # `on_assigned` would read the changelog from Kafka
        handler.monitor.assign(p)
    fewer_full_collections()
    freeze_heap()
    profile = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.process_time()
    checkpoint_bytes = 0
    if profile is not None:
        profile.enable()
    for k in range(0, len(data), args.batch):
        batch = data[k : k + args.batch]
        assert not getattr(handler, "unread", lambda b: {})(batch)  # asked first by the processor
        out = handler.process(batch)
        handler.batch_committed()
        checkpoint_bytes += sum(len(r.value) for r in out if r.topic == store.topic)
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    counts = handler.monitor.counts()
    print(
        f"MonitorHandler.process, {len(data):,} records in {args.batch:,}-record batches: "
        f"{elapsed / len(data) * 1e6:.2f} microseconds per record "
        f"({len(data) / elapsed:,.0f} records/s; {cpu / len(data) * 1e6:.2f} CPU "
        f"microseconds per record); paired {counts.paired:,}, "
        f"unlabelled {counts.unlabelled:,}, capped {counts.capped:,}; "
        f"checkpoints {checkpoint_bytes / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
