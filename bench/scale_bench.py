"""Scorers scale by partitions: 1, 2 and 3 scorer processes draining the same backlog.

One broker, one pre-loaded input topic of 12 partitions (N events, a share invalid).
For each count k, k `streamscore score` processes (bench/scorer_process.py, one consumer
group, distinct instance ids, exactly-once) drain the whole backlog under a fresh group.
They start with no production model, so each joins the group and waits with its input
paused (what a scorer does without a model); once the group is stable with k members the
model is promoted and announced, and all k start at once. So:

- events/s: the backlog's events over the time from the promotion to the last prediction
  visible to a read_committed reader;
- lag drain: the group's committed lag, sampled every 0.25 s, from the promotion until 0;
- the CPU picture: CPU seconds of the scorers and of the broker's JVM over the drain
  (start-up left out), and how busy the whole machine was: on a small machine the broker
  shares the scorers' CPUs, and more processes cannot go faster than the CPUs left over.

    python bench/scale_bench.py                  # 200,000 events, a few minutes
    python bench/scale_bench.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from arrivals import OutputReader
from bench_settings import run_settings, write_settings
from broker import bench_broker
from confluent_kafka import Consumer, KafkaException, TopicPartition
from groups import cpu_seconds, wait_stable
from scoring_bench import BENCH_DIR, Pipeline, log, machine
from traffic import generate, preload

from core.kafka.admin import ensure_topics
from core.kafka.config import consumer_config
from core.kafka.model_events import announcer
from core.logging import configure_logging
from core.promotion import promote
from core.registry import ModelRegistry
from core.settings import Settings
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator

SEED = 42
MODEL = "churn-logistic"


@dataclass
class Row:
    scorers: int
    events: int
    events_per_s: float
    drain_s: float
    """Promotion to the last prediction visible."""
    lag_zero_s: float | None
    """Promotion to the committed lag first reaching 0."""
    scorer_cpu_s: float
    broker_cpu_s: float | None
    machine_busy: float
    """Share of all CPUs busy over the drain (everything on the machine)."""
    lag: list[tuple[float, int]] = field(default_factory=list)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class LagSampler:
    """The group's total committed lag over time, in a thread."""

    def __init__(self, s: Settings, group: str, topic: str, partitions: int) -> None:
        self._consumer = Consumer(consumer_config(s, group, **{"enable.auto.commit": False}))
        self._tps = [TopicPartition(topic, p) for p in range(partitions)]
        self._ends = [self._consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self._tps]
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LagSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                committed = self._consumer.committed(self._tps, timeout=5)
            except KafkaException:
                continue
            lag = sum(
                end - (c.offset if c.offset >= 0 else 0)
                for c, end in zip(committed, self._ends, strict=True)
            )
            self.samples.append((time.time(), lag))
            self._stop.wait(0.25)

    def drained(self) -> bool:
        return bool(self.samples) and self.samples[-1][1] == 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


class ScaleBench:
    def __init__(
        self, args: argparse.Namespace, bootstrap: str, workdir: Path, broker_pid: int | None
    ):
        self.args = args
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.broker_pid = broker_pid
        self.registry = workdir / "registry"
        self.run_id = uuid.uuid4().hex[:6]
        self.input_topic = f"scale-customer-events-{self.run_id}"
        self.valid = 0

    def settings(self, run: str, model_name: str = MODEL) -> Settings:
        s = run_settings(
            self.bootstrap,
            run=f"{self.run_id}-{run}",
            events_topic=self.input_topic,
            partitions=self.args.partitions,
            registry=self.registry,
            model_name=model_name,
            state_dir=self.workdir / "state",
        )
        ensure_topics(s)
        return s

    def prepare(self, counts: Sequence[int]) -> None:
        """One trained model, registered (not promoted) under one name per run."""
        registry = ModelRegistry(self.registry)
        frame = ChurnGenerator(seed=SEED).reference(self.args.train_rows)
        result = train_and_evaluate(frame, "logistic", SEED)
        for k in counts:
            result.register(registry, f"{MODEL}-k{k}", {"threshold": 0.5}, trigger="bench")
        result.register(registry, f"{MODEL}-k1-warm", {"threshold": 0.5}, trigger="bench")
        messages = generate(self.args.events, seed=SEED, invalid_rate=self.args.invalid_rate)
        self.valid = sum(1 for m in messages if m.invalid is None)
        preload(self.settings("input"), self.input_topic, messages, sys.stderr.isatty())
        log(f"pre-loaded {len(messages):,} events on {self.args.partitions} partitions")

    def drain(self, k: int, tag: str = "") -> Row:
        """`tag`: a run of its own (model name, group, topics) on the same input."""
        name = f"{MODEL}-k{k}{tag}"
        s = self.settings(f"k{k}{tag}", name)
        group = s.scorer.group_id
        reader = OutputReader(s, s.topics.predictions, self.args.partitions)
        with ExitStack() as stack:
            procs: list[Pipeline] = []
            for i in range(k):
                one = s.model_copy(
                    update={"scorer": s.scorer.model_copy(update={"instance_id": str(i)})}
                )
                path = write_settings(one, self.workdir / f"k{k}{tag}-{i}.json")
                cmd = [sys.executable, str(BENCH_DIR / "scorer_process.py"), str(path)]
                log_path = self.workdir / f"k{k}{tag}-{i}.log"
                procs.append(stack.enter_context(Pipeline(cmd, log_path)))
            wait_stable(s, group, procs, members=k)
            busy0, total0 = machine_ticks()
            registry = ModelRegistry(self.registry)
            stable = time.time()
            promote(registry, name, 1, reason="bench", announce=announcer(s))
            broker0 = cpu_seconds(self.broker_pid)
            scorers0 = sum(cpu_seconds(p.pid) for p in procs)
            lag = LagSampler(s, f"{group}", self.input_topic, self.args.partitions).start()
            a = reader.read(
                expected=self.valid,
                done=lambda: any(p.exited() for p in procs),
                timeout_s=max(300.0, self.args.events / 200),
                progress=f"{k} scorer(s)" if sys.stderr.isatty() else None,
            )
            last = max(a.times) if len(a) else time.time()
            zero_deadline = time.monotonic() + 30
            while time.monotonic() < zero_deadline and not (
                lag.samples and lag.samples[-1][1] == 0
            ):
                time.sleep(0.1)
            lag.stop()
            busy1, total1 = machine_ticks()
            broker_cpu = cpu_seconds(self.broker_pid) - broker0 if self.broker_pid else None
            scorer_cpu = sum(cpu_seconds(p.pid) for p in procs) - scorers0
        reader.close()
        if len(a) < self.valid:
            raise RuntimeError(f"{k} scorers: {len(a)} of {self.valid} predictions")
        zero = next((t for t, n in lag.samples if n == 0 and t >= stable), None)
        drain = last - stable
        row = Row(
            scorers=k,
            events=self.args.events,
            events_per_s=round(self.args.events / drain, 1),
            drain_s=round(drain, 2),
            lag_zero_s=round(zero - stable, 2) if zero is not None else None,
            scorer_cpu_s=round(scorer_cpu, 1),
            broker_cpu_s=round(broker_cpu, 1) if broker_cpu is not None else None,
            machine_busy=round((busy1 - busy0) / max(1, total1 - total0), 3),
            lag=[(round(t - stable, 2), n) for t, n in lag.samples],
        )
        log(
            f"{k} scorer(s): {row.events_per_s:,.0f} events/s, drained in {row.drain_s}s, "
            f"CPU busy {row.machine_busy:.0%}"
        )
        return row


def table(rows: Sequence[Row]) -> str:
    base = rows[0].events_per_s if rows else 0.0
    lines = [
        "| scorers | events/s | vs 1 | drain s | lag 0 after s | scorer CPU s | broker CPU s "
        "| machine CPU busy |",
        "|" + "---|" * 8,
    ]
    for r in rows:
        lines.append(
            f"| {r.scorers} | {r.events_per_s:,.0f} | {r.events_per_s / base:.2f} | {r.drain_s} "
            f"| {r.lag_zero_s} | {r.scorer_cpu_s} | {r.broker_cpu_s} | {r.machine_busy:.0%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="1, 2 and 3 scorers draining one backlog.")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=12)
    p.add_argument("--scorers", default="1,2,3", help="process counts to run (1,2,3)")
    p.add_argument("--invalid-rate", type=float, default=0.03)
    p.add_argument("--train-rows", type=int, default=20_000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 20_000)
        args.train_rows = min(args.train_rows, 4_000)
    counts = [int(x) for x in args.scorers.split(",") if x]
    configure_logging("bench", level="warning", fmt="json", stream=sys.stderr)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-bench-")))
        broker = stack.enter_context(bench_broker(workdir, log))
        bench = ScaleBench(args, broker.bootstrap, workdir, broker.pid)
        bench.prepare(counts)
        # A new broker's JVM compiles its hot paths in its first minutes of work: a drain
        # not kept first, so that the single scorer is not measured on a cold broker.
        log("warming the broker up (one scorer's drain, not kept)")
        bench.drain(1, tag="-warm")
        rows = [bench.drain(k) for k in counts]
    facts = machine()
    print(
        f"\nstreamscore scale-out: {facts['nproc']} CPUs ({facts['cpu']}), {args.events:,} "
        f"events on {args.partitions} partitions, exactly-once; load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": facts, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
