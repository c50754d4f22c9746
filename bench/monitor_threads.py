"""Where the monitor's end-to-end CPU goes, thread by thread and step by step, against a
real broker.

`monitor_bench.py` reports one process CPU figure per record; this loads the same
records (its `load`) and splits the monitor's ingest of them by thread (the processing
loop, librdkafka's threads, the judge, the HTTP server; from /proc) and, with
`--phases`, by step of the processing loop: CPU and wall time of consume, unread,
decode, join, checkpoints, commit, and of the garbage collector's runs per generation
(`gc.callbacks`), with counts of join entries checkpointed and records left unread.
The steps are timed by wrapping those methods (a few microseconds per batch); nothing
they do changes.

    python bench/monitor_threads.py [--predictions 300000] [--reps 2] [--phases]
        [--trace] [--plain] [--batch-size N] [--profile OUT]

`--trace` prints each batch the loop consumed and what was held, `--profile` writes a
cProfile of the loop's thread in the last rep.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import heapq
import os
import pstats
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from broker import bench_broker
from monitor_bench import _metric, bench_settings, load, plain_consume

import consumers.performance as monitor_module
from consumers.performance import MonitorHandler, run_monitor
from core.kafka.admin import ensure_topics
from core.kafka.commit import TransactionalCommit
from core.kafka.local_broker import free_port
from core.kafka.processor import BatchProcessor
from core.logging import configure_logging
from core.performance.join import JoinBuffer
from core.performance.partitions import PartitionedMonitor
from core.settings import Settings

_TICK = os.sysconf("SC_CLK_TCK")

CPU: dict[str, float] = defaultdict(float)
"""CPU seconds per step, in the processing loop's thread only."""
WALL: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)
LOOP: list[int] = []
"""The processing loop's native thread id, once it runs."""
TRACE = False


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


def _in_loop() -> bool:
    return threading.get_native_id() in LOOP


def _timed(owner: type, name: str, label: str) -> None:
    """Add the CPU and wall time of `owner.name` calls in the loop's thread to `label`."""
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _in_loop():
            return inner(*args, **kwargs)
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            CPU[label] += time.thread_time() - cpu
            WALL[label] += time.perf_counter() - wall
            COUNTS[label] += 1

    setattr(owner, name, wrapper)


def time_phases() -> None:
    started = [0.0]

    def collected(phase: str, info: dict[str, int]) -> None:
        if not _in_loop():
            return
        if phase == "start":
            started[0] = time.thread_time()
        else:
            label = f"gc generation {info['generation']}"
            CPU[label] += time.thread_time() - started[0]
            COUNTS[label] += 1

    gc.callbacks.append(collected)
    for owner, name, label in [
        (BatchProcessor, "_consume", "consume"),
        (BatchProcessor, "_leave_unread", "unread split (with handler.unread)"),
        (MonitorHandler, "unread", "  handler.unread"),
        (MonitorHandler, "process", "handler.process"),
        (PartitionedMonitor, "add_batch", "  join add_batch"),
        (PartitionedMonitor, "close_shares", "  close_shares (eviction, windows)"),
        (PartitionedMonitor, "checkpoint", "  checkpoint"),
        (TransactionalCommit, "send", "commit send"),
        (TransactionalCommit, "finish", "commit finish"),
        (MonitorHandler, "idle", "handler.idle"),
        (BatchProcessor, "_sync_held", "sync_held"),
    ]:
        _timed(owner, name, label)

    decode = monitor_module.decode_batch

    def timed_decode(*args: Any) -> Any:
        cpu = time.thread_time()
        try:
            return decode(*args)
        finally:
            CPU["    decode_batch"] += time.thread_time() - cpu
            COUNTS["    decode_batch"] += 1

    monitor_module.decode_batch = timed_decode  # type: ignore[assignment]

    leave = BatchProcessor._leave_unread

    def leave_unread(self: BatchProcessor, records: list[Any]) -> list[Any]:
        kept = leave(self, records)
        if _in_loop():
            COUNTS["records consumed"] += len(records)
            COUNTS["records left unread"] += len(records) - len(kept)
        return kept

    BatchProcessor._leave_unread = leave_unread  # type: ignore[method-assign]

    consume = BatchProcessor._consume

    def traced(self: BatchProcessor) -> list[Any]:
        wall = time.perf_counter()
        got = consume(self)
        if TRACE and _in_loop():
            held = sorted(f"{t}[{p}]" for t, p in self._held)
            ms = (time.perf_counter() - wall) * 1e3
            print(f"      consumed {len(got):6d} in {ms:6.1f} ms, held {held}")
        return got

    BatchProcessor._consume = traced  # type: ignore[method-assign]

    to_bytes = JoinBuffer.to_bytes

    def counted_to_bytes(self: JoinBuffer) -> bytes:
        COUNTS["join entries checkpointed"] += len(self)
        return to_bytes(self)

    JoinBuffer.to_bytes = counted_to_bytes  # type: ignore[method-assign]

    push, pop = heapq.heappush, heapq.heappop

    def counted_push(heap: list[Any], item: Any) -> None:
        COUNTS["heap pushes"] += 1
        push(heap, item)

    def counted_pop(heap: list[Any]) -> Any:
        COUNTS["heap pops"] += 1
        return pop(heap)

    heapq.heappush, heapq.heappop = counted_push, counted_pop


def ingest(settings: Settings, n: int, profile: str | None) -> None:
    port = free_port()
    settings.monitor.http_port = port
    stop = threading.Event()
    LOOP.clear()
    prof = cProfile.Profile() if profile else None

    def target() -> None:
        LOOP.append(threading.get_native_id())
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
            for figures in (CPU, WALL, COUNTS):  # only what follows the first batch
                figures.clear()
        if consumed >= n:
            break
        time.sleep(0.05)
    after = thread_cpu()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    records = n - first
    by_name: dict[str, float] = defaultdict(float)
    for tid, (name, cpu) in after.items():
        label = "processing loop" if LOOP and tid == LOOP[0] else name
        if tid == threading.get_native_id():
            label = "bench poller"
        by_name[label] += cpu - before.get(tid, (name, 0.0))[1]
    total = sum(v for k, v in by_name.items() if k != "bench poller")
    print(
        f"  {records:,.0f} records in {elapsed:.2f} s: {records / elapsed:,.0f}/s, "
        f"{elapsed / records * 1e6:.2f} us/record wall"
    )
    for name, cpu in sorted(by_name.items(), key=lambda kv: -kv[1]):
        if cpu > 0:
            print(f"    {name:24s} {cpu / records * 1e6:6.2f} CPU us/record")
    print(f"    {'total (less poller)':24s} {total / records * 1e6:6.2f} CPU us/record")
    for label in sorted(CPU, key=lambda k: -CPU[k] if k.startswith("gc") else 0):
        print(
            f"      {label:36s} {CPU[label] / records * 1e6:6.2f} CPU, "
            f"{WALL[label] / records * 1e6:6.2f} wall us/record, {COUNTS[label]} calls"
        )
    for label in ("join entries checkpointed", "records consumed", "records left unread"):
        if label in COUNTS:
            print(f"      {label}: {COUNTS[label]:,}")
    if "heap pushes" in COUNTS:
        print(f"      join heap: {COUNTS['heap pushes']:,} pushes, {COUNTS['heap pops']:,} pops")
    stop.set()
    thread.join(60)
    if prof is not None and profile:
        prof.dump_stats(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


def main() -> int:
    global TRACE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--profile", metavar="OUT")
    parser.add_argument("--plain", action="store_true", help="also time a plain consume")
    parser.add_argument("--phases", action="store_true", help="time the loop's steps")
    parser.add_argument("--trace", action="store_true", help="print every batch consumed")
    parser.add_argument("--batch-size", type=int, help="monitor.batch_size")
    args = parser.parse_args()
    TRACE = args.trace
    if args.phases or args.trace:
        time_phases()
    configure_logging("bench", "warning", "json")
    with tempfile.TemporaryDirectory() as tmp, bench_broker(Path(tmp)) as broker:
        bootstrap = broker.bootstrap
        run = uuid.uuid4().hex[:6]
        settings = bench_settings(bootstrap, Path(tmp), args.batch_size, run)
        ensure_topics(settings)
        records = load(settings, args.predictions)
        for rep in range(args.reps):
            if args.plain:
                rate, cpu = plain_consume(settings, records)
                print(f"rep {rep + 1} plain: {rate:,.0f}/s, {cpu:.2f} CPU us/record")
            settings.monitor.group_id = f"bench-monitor-{run}-{rep}"
            print(f"rep {rep + 1} monitor (load {os.getloadavg()[0]:.2f}):")
            ingest(settings, records, args.profile if rep == args.reps - 1 else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
