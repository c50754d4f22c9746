"""Where the monitor's end-to-end CPU goes, thread by thread, against a real broker.

`monitor_bench.py` reports one process CPU figure per record; this splits it by thread
(the processing loop, librdkafka's broker threads, the judge, the HTTP server) from
/proc, and can profile the processing loop with cProfile:

    python bench/monitor_threads.py [--predictions 300000] [--reps 2] [--profile OUT]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.monitor_bench import _metric, load, plain_consume
from consumers.performance import run_monitor
from core.kafka.admin import ensure_topics
from core.kafka.local_broker import LocalBroker, free_port
from core.logging import configure_logging
from core.settings import Settings

_TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, tuple[str, float]]:
    """Per thread of this process: (name, CPU seconds)."""
    out: dict[int, tuple[str, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return out


PHASES: dict[str, float] = defaultdict(float)
"""CPU seconds per step, in the processing loop's thread only."""
WALL: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
LOOP: list[int] = []
"""The processing loop's native thread id."""


def _timed(owner: type, name: str, label: str) -> None:
    """Accumulate the thread CPU time of `owner.name` calls under `label`."""
    inner = getattr(owner, name)

    def wrapper(*args: object, **kwargs: object) -> object:
        if threading.get_native_id() not in LOOP:
            return inner(*args, **kwargs)
        start, wall = time.thread_time(), time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            PHASES[label] += time.thread_time() - start
            WALL[label] += time.perf_counter() - wall
            CALLS[label] += 1

    setattr(owner, name, wrapper)


def time_phases() -> None:
    """Time the processing loop's steps: each wrapper costs a few microseconds a batch."""
    import gc

    started = [0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if threading.get_native_id() not in LOOP:
            return
        if phase == "start":
            started[0] = time.thread_time()
        else:
            PHASES[f"gc generation {info['generation']}"] += time.thread_time() - started[0]
            CALLS[f"gc generation {info['generation']}"] += 1

    gc.callbacks.append(collected)
    from consumers.performance import MonitorHandler
    from core.kafka.commit import TransactionalCommit
    from core.kafka.processor import BatchProcessor
    from core.performance import decoding, partitions

    _timed(BatchProcessor, "_consume", "consume")
    _timed(BatchProcessor, "_leave_unread", "leave_unread (with unread)")
    _timed(MonitorHandler, "unread", "handler.unread")
    _timed(MonitorHandler, "process", "handler.process")
    _timed(TransactionalCommit, "commit", "commit")
    _timed(partitions.PartitionedMonitor, "add_batch", "  add_batch (join)")
    _timed(partitions.PartitionedMonitor, "checkpoint", "  checkpoint")
    _timed(partitions.PartitionedMonitor, "close_shares", "  close_shares")
    _timed(MonitorHandler, "_observe", "  _observe")
    _timed(MonitorHandler, "idle", "handler.idle")
    _timed(BatchProcessor, "_sync_held", "sync_held")
    _timed(BatchProcessor, "_maybe_report_lag", "report_lag")
    from core.performance.join import JoinBuffer

    leave = BatchProcessor._leave_unread

    def leave_unread(self: BatchProcessor, records: list[Any]) -> list[Any]:
        kept = leave(self, records)
        CALLS["records left unread"] += len(records) - len(kept)
        CALLS["records consumed"] += len(records)
        return kept

    BatchProcessor._leave_unread = leave_unread  # type: ignore[method-assign]

    consume = BatchProcessor._consume

    def traced(self: BatchProcessor) -> list[Any]:
        wall = time.perf_counter()
        got = consume(self)
        if threading.get_native_id() in LOOP and os.environ.get("TRACE_BATCHES"):
            held = sorted(f"{t[-8:]}[{p}]" for t, p in self._held)
            print(
                f"      consume {len(got):6d} in {(time.perf_counter() - wall) * 1e3:6.1f} ms"
                f" held {held}"
            )
        return got

    BatchProcessor._consume = traced  # type: ignore[method-assign]

    sizes = JoinBuffer.to_bytes

    def to_bytes(self: JoinBuffer) -> bytes:
        CALLS["join entries checkpointed"] += len(self)
        return sizes(self)

    JoinBuffer.to_bytes = to_bytes  # type: ignore[method-assign]
    import consumers.performance as module

    inner = decoding.decode_batch

    def decode(*args: object) -> object:
        CALLS["  decode_batch"] += 1
        start = time.thread_time()
        try:
            return inner(*args)  # type: ignore[arg-type]
        finally:
            PHASES["  decode_batch"] += time.thread_time() - start

    module.decode_batch = decode  # type: ignore[assignment]


def ingest(settings: Settings, n: int, profile: str | None) -> None:
    PHASES.clear()
    WALL.clear()
    CALLS.clear()
    port = free_port()
    settings.monitor.http_port = port
    stop = threading.Event()
    loop_tid = LOOP
    loop_tid.clear()
    prof = cProfile.Profile() if profile else None

    def target() -> None:
        loop_tid.append(threading.get_native_id())
        if prof is not None:
            prof.runcall(run_monitor, settings, stop)
        else:
            run_monitor(settings, stop)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    before: dict[int, tuple[str, float]] = {}
    started = None
    first = 0.0
    while True:
        consumed = _metric(port, 'streamscore_records_consumed_total{consumer="monitor"}')
        if consumed > 0 and started is None:
            started, first, before = time.perf_counter(), consumed, thread_cpu()
            PHASES.clear()  # only what follows the first batch, as the rate
            WALL.clear()
            CALLS.clear()
        if consumed >= n:
            break
        time.sleep(0.05)
    after = thread_cpu()
    if PHASES:
        import collections
        import gc

        objects = gc.get_objects()
        kinds = collections.Counter(type(o).__name__ for o in objects)
        print(f"  gc-tracked objects: {len(objects):,}; most: {kinds.most_common(8)}")
        del objects
    elapsed = time.perf_counter() - (started or time.perf_counter())
    records = n - first
    print(f"    wall {elapsed / records * 1e6:.2f} us/record")
    by_name: dict[str, float] = defaultdict(float)
    for tid, (name, cpu) in after.items():
        label = "processing loop" if loop_tid and tid == loop_tid[0] else name
        if tid == threading.get_native_id():
            label = "bench poller"
        by_name[label] += cpu - before.get(tid, (name, 0.0))[1]
    total = sum(v for k, v in by_name.items() if k != "bench poller")
    print(f"  {records:,.0f} records in {elapsed:.2f} s: {records / elapsed:,.0f}/s")
    for name, cpu in sorted(by_name.items(), key=lambda kv: -kv[1]):
        print(f"    {name:24s} {cpu / records * 1e6:6.2f} CPU us/record")
    print(f"    {'total (less poller)':24s} {total / records * 1e6:6.2f} CPU us/record")
    print(f"      join entries checkpointed: {CALLS['join entries checkpointed']:,}")
    print(f"      records consumed: {CALLS['records consumed']:,}")
    print(f"      records left unread: {CALLS['records left unread']:,}")
    for label, cpu in PHASES.items():
        print(
            f"      {label:30s} {cpu / records * 1e6:6.2f} CPU us/record, "
            f"{WALL[label] / records * 1e6:6.2f} us/record wall, {CALLS[label]} calls"
        )
    stop.set()
    thread.join(60)
    if prof is not None and profile:
        prof.dump_stats(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--profile", metavar="OUT")
    parser.add_argument("--plain", action="store_true", help="also time a plain consume")
    parser.add_argument("--phases", action="store_true", help="time the loop's steps")
    parser.add_argument("--batch-size", type=int, help="monitor.batch_size")
    args = parser.parse_args()
    if args.phases:
        time_phases()
    configure_logging("bench", "warning", "json")
    with tempfile.TemporaryDirectory() as tmp:
        broker = None
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            broker = LocalBroker(Path(tmp) / "broker")
            bootstrap = broker.start().bootstrap
        try:
            run = uuid.uuid4().hex[:6]
            settings = Settings(
                kafka={"bootstrap_servers": bootstrap},
                topics={
                    name: f"bench-{name}-{run}"
                    for name in ("predictions", "outcomes", "performance", "monitor_state")
                }
                | {"performance_alerts": f"bench-palerts-{run}"},
                monitor={"window_seconds": 60, "label_delay_s": 30}
                | ({"batch_size": args.batch_size} if args.batch_size else {}),
                registry={"path": Path(tmp) / "registry"},
                state_dir=Path(tmp),
            )
            ensure_topics(settings)
            records = load(settings, args.predictions)
            for rep in range(args.reps):
                if args.plain:
                    rate, cpu = plain_consume(settings, records)
                    print(f"rep {rep + 1} plain: {rate:,.0f}/s, {cpu:.2f} CPU us/record")
                settings.monitor.group_id = f"bench-monitor-{run}-{rep}"
                print(f"rep {rep + 1} monitor (load {os.getloadavg()[0]:.2f}):")
                ingest(settings, records, args.profile if rep == args.reps - 1 else None)
        finally:
            if broker is not None:
                broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
