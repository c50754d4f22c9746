"""streamscore's scorer against the same scoring job written with Quix Streams, in one run.

One broker, one trained model, one pre-loaded input topic (N events, a share invalid);
every pipeline reads it under its own consumer group and writes its own prediction, log
and dead-letter topics:

    streamscore   `streamscore score` (bench/scorer_process.py), exactly-once and
                  at-least-once
    quix/msg      Quix Streams, one message at a time (`quix_scorer.py --form per-message`)
    quix/batch    Quix Streams, a BatchingSink scoring each checkpoint's records at once

Both sides call the same validation, model and record-building code (see
`quix_scorer.py`), so the figures compare the streaming layer only. For each pipeline:

- throughput, two ways: "drain", the backlog's events divided by the time from the
  pipeline's consumer group becoming stable (both load the model first) to its last
  prediction visible to a read_committed reader, so the first fetches and transactions
  count; "steady", between the 10th and 90th percentile of the predictions' arrivals
  (start-up and the last commit left out), with the process's CPU (every thread) from
  the first prediction to the last per event;
- readable after: in a steady stream (`--rate`, default 500 events/s, which every form
  sustains), the p50 and p99 of the time from an input's Kafka timestamp until its
  prediction is visible to a read_committed reader (what a downstream consumer waits);
- correctness: every prediction compared with streamscore's exactly-once run for the
  same event_id (missing, duplicated, probability or label different), and the dead
  letters counted.

Quix checkpoints (and so commits its transaction and makes outputs visible) every
`commit_interval` seconds, 5.0 by default. The batching form drains at the default and at
`--quix-commit-intervals` (1 and 0.25 s), so its best is in the table; latency runs use
the default and `--quix-commit-interval` (0.1 s), the closest to streamscore's 50 ms
batches. The per-message form drains a smaller backlog (`--msg-events`).

    .venv/bin/python bench/peers/peers_bench.py            # a few minutes
    .venv/bin/python bench/peers/peers_bench.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent
BENCH_DIR = PEERS_DIR.parent
REPO_ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(REPO_ROOT)]

import numpy as np  # noqa: E402
from arrivals import OutputReader, latencies_ms  # noqa: E402
from bench_settings import run_settings, write_settings  # noqa: E402
from broker import bench_broker  # noqa: E402
from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    Consumer,
    TopicPartition,
)
from groups import cpu_seconds, wait_stable  # noqa: E402
from scoring_bench import Pipeline, log, machine  # noqa: E402
from traffic import PacedStream, generate, preload  # noqa: E402

from core.kafka.admin import ensure_topics  # noqa: E402
from core.kafka.config import consumer_config  # noqa: E402
from core.logging import configure_logging  # noqa: E402
from core.registry import ModelRegistry  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.training import train_and_evaluate  # noqa: E402
from producers.generator import ChurnGenerator  # noqa: E402
from producers.messages import EventMessage  # noqa: E402

SEED = 42
MODEL = "churn-logistic"
QUIX_VENV = PEERS_DIR / ".venv"
REQUIREMENTS = PEERS_DIR / "requirements.txt"
RAMP_MS = 1000
STEADY_MIN_BURSTS = 10
"""A steady rate needs outputs that arrive in this many bursts at least (arrivals more
than `BURST_GAP_S` apart): a pipeline that makes them visible only every few seconds
(Quix's 5 s checkpoint) has no steady span to measure."""
BURST_GAP_S = 0.05


@dataclass(frozen=True)
class Peer:
    name: str
    guarantee: str
    form: str | None = None
    """None: streamscore; else the Quix form."""

    def label(self, commit_interval: float | None = None) -> str:
        g = "EOS" if self.guarantee == "exactly-once" else "ALOS"
        ci = f" ci={commit_interval:g}s" if commit_interval is not None else ""
        return f"{self.name} {g}{ci}"


PEERS = [
    Peer("streamscore", "exactly-once"),
    Peer("streamscore", "at-least-once"),
    Peer("quix/batch", "exactly-once", "batching"),
    Peer("quix/batch", "at-least-once", "batching"),
    Peer("quix/msg", "exactly-once", "per-message"),
    Peer("quix/msg", "at-least-once", "per-message"),
]


@dataclass
class Row:
    pipeline: str
    events: int
    predictions: int
    events_per_s: float
    joined_s: float
    """From the process start until its consumer group is stable (model load, group join)."""
    drain_s: float
    """From the group being stable until the last prediction is visible."""
    p50_ms: float | None = None
    p99_ms: float | None = None
    p50_ms_tuned: float | None = None
    p99_ms_tuned: float | None = None
    missing: int | None = None
    duplicated: int | None = None
    differing: int | None = None
    dead_letters: int | None = None
    cpu_s: float | None = None
    """CPU seconds the pipeline process used in its throughput run, start-up included."""
    steady_events_per_s: float | None = None
    """Input events per second from the first prediction visible to the last."""
    cpu_us_per_event: float | None = None
    """The process's CPU (every thread) over the steady span, per input event."""


def quix_python() -> Path:
    """The peer virtualenv's interpreter, made on first use (quixstreams and streamscore)."""
    python = QUIX_VENV / "bin" / "python"
    stamp = QUIX_VENV / ".installed"
    if stamp.exists() and stamp.stat().st_mtime >= REQUIREMENTS.stat().st_mtime:
        return python
    log(f"making {QUIX_VENV} (quixstreams and streamscore)")
    subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([*pip, "-e", str(REPO_ROOT)], check=True)
    stamp.touch()
    return python


class PeersBench:
    def __init__(self, args: argparse.Namespace, bootstrap: str, workdir: Path) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.registry = workdir / "registry"
        self.run_id = uuid.uuid4().hex[:6]
        self.input_topic = f"peers-customer-events-{self.run_id}"
        self.small_topic = f"peers-customer-events-small-{self.run_id}"
        self.small_events = min(args.msg_events, args.events)
        self.small_valid = 0
        self.messages: list[EventMessage] = []
        self.valid = 0
        self.quix = quix_python()
        self.rows: list[Row] = []
        self.reference: dict[str, tuple[float, int]] = {}

    def settings(self, run: str, events_topic: str | None = None) -> Settings:
        s = run_settings(
            self.bootstrap,
            run=f"{self.run_id}-{run}",
            events_topic=events_topic or self.input_topic,
            partitions=self.args.partitions,
            registry=self.registry,
            model_name=MODEL,
            state_dir=self.workdir / "state",
        )
        ensure_topics(s)
        return s

    def prepare(self) -> None:
        registry = ModelRegistry(self.registry)
        frame = ChurnGenerator(seed=SEED).reference(self.args.train_rows)
        result = train_and_evaluate(frame, "logistic", SEED)
        version = result.register(registry, MODEL, {"threshold": 0.5}, trigger="bench").version
        registry.promote(MODEL, version, "production", "bench")
        self.messages = generate(self.args.events, seed=SEED, invalid_rate=self.args.invalid_rate)
        self.valid = sum(1 for m in self.messages if m.invalid is None)
        preload(self.settings("input"), self.input_topic, self.messages, sys.stderr.isatty())
        small = self.messages[: self.small_events]
        self.small_valid = sum(1 for m in small if m.invalid is None)
        preload(
            self.settings("input-small", self.small_topic),
            self.small_topic,
            small,
            sys.stderr.isatty(),
        )
        invalid = len(self.messages) - self.valid
        log(f"pre-loaded {len(self.messages):,} events ({invalid:,} invalid)")

    def command(
        self, peer: Peer, s: Settings, run: str, commit_interval: float | None = None
    ) -> list[str]:
        if peer.form is None:
            s = s.model_copy(
                update={"scorer": s.scorer.model_copy(update={"delivery": peer.guarantee})}
            )
            path = write_settings(s, self.workdir / f"{run}.json")
            return [sys.executable, str(BENCH_DIR / "scorer_process.py"), str(path)]
        path = write_settings(s, self.workdir / f"{run}.json")
        cmd = [
            str(self.quix),
            str(PEERS_DIR / "quix_scorer.py"),
            str(path),
            "--group",
            s.scorer.group_id,
            "--form",
            peer.form,
            "--guarantee",
            peer.guarantee,
        ]
        if commit_interval is not None:
            cmd += ["--commit-interval", str(commit_interval)]
        return cmd

    def throughput(self, peer: Peer, commit_interval: float | None = None) -> Row:
        """Drain the backlog (the smaller one for the per-message form)."""
        small = peer.form == "per-message"
        topic, n, valid = (
            (self.small_topic, self.small_events, self.small_valid)
            if small
            else (self.input_topic, self.args.events, self.valid)
        )
        tag = f"{commit_interval:g}".replace(".", "_") if commit_interval is not None else "def"
        run = f"tp-{peer.name.replace('/', '-')}-{peer.guarantee}-{tag}"
        s = self.settings(run, events_topic=topic)
        reader = OutputReader(s, s.topics.predictions, self.args.partitions)
        started = time.time()
        cmd = self.command(peer, s, run, commit_interval)
        first: list[float] = []
        with Pipeline(cmd, self.workdir / f"{run}.log") as proc:
            joined = wait_stable(s, s.scorer.group_id, [proc])
            a = reader.read(
                expected=valid,
                done=proc.exited,
                timeout_s=max(300.0, n / 200),
                progress=peer.label(commit_interval) if sys.stderr.isatty() else None,
                on_first=lambda: first.append(cpu_seconds(proc.pid)),
            )
            last_cpu = cpu_seconds(proc.pid)
            cpu = round(last_cpu, 1)
        reader.close()
        if len(a) < valid:
            raise RuntimeError(f"{peer.label()}: {len(a)} of {valid} predictions; {proc.log}")
        drain = max(a.times) - joined
        row = Row(
            pipeline=peer.label(commit_interval),
            events=n,
            predictions=len(a),
            events_per_s=round(n / drain, 1),
            joined_s=round(joined - started, 2),
            drain_s=round(drain, 2),
            cpu_s=cpu,
        )
        if arrived_steadily(a.times):
            row.steady_events_per_s = round(steady_rate(a.times) * n / len(a), 1)
            if first:
                spanned = (len(a) - 1) * n / len(a)
                row.cpu_us_per_event = round((last_cpu - first[0]) / spanned * 1e6, 2)
        self.check(row, s, valid)
        log(
            f"{row.pipeline:<26} {row.events_per_s:>10,.0f} events/s drain, "
            f"{row.steady_events_per_s or 0:>10,.0f} steady, {row.cpu_us_per_event} CPU us/event"
        )
        self.rows.append(row)
        return row

    def check(self, row: Row, s: Settings, valid: int) -> None:
        """Compare every prediction with streamscore's exactly-once run's (the first run)."""
        values = read_all(s, s.topics.predictions, self.args.partitions, valid)
        seen: Counter[str] = Counter()
        got: dict[str, tuple[float, int]] = {}
        for v in values:
            p = json.loads(v)
            seen[p["event_id"]] += 1
            got[p["event_id"]] = (p["probability"], p["prediction"])
        if not self.reference:
            self.reference = got
        ref = self.reference
        row.missing = valid - len(got)
        row.duplicated = sum(n - 1 for n in seen.values() if n > 1)
        row.differing = sum(
            1
            for k, (prob, label) in got.items()
            if k in ref and (abs(prob - ref[k][0]) > 1e-12 or label != ref[k][1])
        ) + sum(1 for k in got if k not in ref)
        row.dead_letters = len(read_all(s, s.topics.dlq, self.args.partitions, None))

    def latency(self, peer: Peer, row: Row, commit_interval: float | None) -> None:
        args = self.args
        n = int(args.rate * args.latency_seconds)
        tag = f"{commit_interval:g}".replace(".", "_") if commit_interval is not None else "def"
        run = f"live-{peer.name.replace('/', '-')}-{peer.guarantee}-{tag}"
        topic = f"peers-live-{self.run_id}-{run}"
        s = self.settings(run, events_topic=topic)
        warm = generate(50, seed=SEED + 1, invalid_rate=0.0, start_index=10_000_000)
        steady = generate(n, seed=SEED + 1, invalid_rate=args.invalid_rate, start_index=20_000_000)
        reader = OutputReader(s, s.topics.predictions, args.partitions, keep_keys=True)
        stream = PacedStream(s, topic, steady, args.rate)
        cmd = self.command(peer, s, run, commit_interval)
        with Pipeline(cmd, self.workdir / f"{run}.log") as proc:
            stream.warm(warm)
            reader.read(expected=len(warm), done=proc.exited, timeout_s=120)
            stream.start()
            expected = len(warm) + sum(1 for m in steady if m.invalid is None)
            a = reader.read(
                expected=expected,
                done=lambda: not stream.running(),
                timeout_s=args.latency_seconds + 120,
                idle_s=8.0,
            )
            stream.join(30)
        reader.close()
        visible, _ = latencies_ms(a, stream.created, since_ms=stream.started_ms + RAMP_MS)
        if len(visible) == 0:
            raise RuntimeError(f"{peer.label(commit_interval)}: no steady outputs; {proc.log}")
        p50, p99 = (round(float(x), 1) for x in np.percentile(visible, [50, 99]))
        if commit_interval is None:
            row.p50_ms, row.p99_ms = p50, p99
        else:
            row.p50_ms_tuned, row.p99_ms_tuned = p50, p99
        log(f"{peer.label(commit_interval):<26} at {args.rate:,.0f}/s: p50 {p50} ms, p99 {p99} ms")

    def warm_up(self, peers: Sequence[Peer]) -> None:
        """A drain by each side first, not kept: a new broker's JVM compiles its hot paths
        during its first minutes of work, and whichever pipeline ran first paid for it
        (`scoring_bench.py`: the same scorer three times in a row on a new broker,
        34,778, 40,274 and 45,139 events/s)."""
        kept, run_id = len(self.rows), self.run_id
        self.run_id = f"{run_id}-warm"  # its own groups and topics, the same input
        try:
            log("warming the broker up (a drain by each side, not kept)")
            for peer in peers:
                self.throughput(peer)
        finally:
            self.run_id = run_id
            del self.rows[kept:]
            self.reference = {}

    def run(self) -> list[Row]:
        self.prepare()
        peers = [p for p in PEERS if self.args.only is None or p.name in self.args.only]
        self.warm_up(
            [p for p in peers if p.guarantee == "exactly-once" and p.form == "batching"]
            + [p for p in peers if p.guarantee == "exactly-once" and p.form is None]
        )
        rows: list[tuple[Peer, Row]] = []
        for peer in peers:
            rows.append((peer, self.throughput(peer)))
            if peer.form == "batching":
                for ci in self.args.quix_commit_intervals:
                    self.throughput(peer, ci)
        if not self.args.skip_latency:
            for peer, row in rows:
                self.latency(peer, row, None)
                if peer.form is not None:
                    self.latency(peer, row, self.args.quix_commit_interval)
        return self.rows


def arrived_steadily(times: Sequence[float]) -> bool:
    """Outputs arrived in `STEADY_MIN_BURSTS` bursts at least."""
    t = np.unique(np.asarray(times))
    return len(t) > 1 and int(np.count_nonzero(np.diff(t) > BURST_GAP_S)) + 1 >= (STEADY_MIN_BURSTS)


def steady_rate(times: Sequence[float]) -> float:
    """Outputs per second between the 10th and the 90th percentile of their arrivals: the
    first and last bursts (start-up, the tail's last commit) left out."""
    t = np.sort(np.asarray(times))
    lo, hi = np.percentile(t, [10, 90])
    return float(np.count_nonzero((t > lo) & (t <= hi))) / float(hi - lo) if hi > lo else 0.0


def read_all(s: Settings, topic: str, partitions: int, expected: int | None) -> list[bytes]:
    """Every committed record of `topic`, read from the beginning until 3 s of silence."""
    consumer = Consumer(
        consumer_config(s, f"peers-check-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": False})
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out: list[bytes] = []
    quiet = time.monotonic()
    try:
        while time.monotonic() - quiet < 3.0:
            batch = consumer.consume(10_000, 0.5)
            good = [m.value() for m in batch if m.error() is None]
            if good:
                out.extend(good)
                quiet = time.monotonic()
            if expected is not None and len(out) >= expected and not batch:
                break
    finally:
        consumer.close()
    return out


def _best(rows: Sequence[Row], value: Callable[[Row], float | None], low: bool) -> float | None:
    """The best Quix exactly-once figure: the highest rate, or the lowest cost (`low`)."""
    got = [
        v
        for r in rows
        if r.pipeline.startswith("quix") and "EOS" in r.pipeline and (v := value(r)) is not None
    ]
    if not got:
        return None
    return min(got) if low else max(got)


def _times(mine: float | None, best: float | None, low: bool = False) -> str:
    if not mine or not best:
        return ""
    return f"{(best / mine if low else mine / best):.1f}x"


def table(rows: Sequence[Row]) -> str:
    def drain(r: Row) -> float | None:
        return r.events_per_s

    def steady(r: Row) -> float | None:
        return r.steady_events_per_s

    def cost(r: Row) -> float | None:
        return r.cpu_us_per_event

    best_drain, best_steady = _best(rows, drain, False), _best(rows, steady, False)
    best_cost = _best(rows, cost, True)
    lines = [
        "| pipeline | drain events/s | vs best Quix EOS | steady events/s | vs best Quix EOS "
        "| CPU µs/event (steady) | vs best Quix EOS | group join s | drain s "
        "| readable p50 / p99 ms (Quix ci=5 s) | readable p50 / p99 ms (Quix ci=0.1 s) "
        "| missing | dup | differing | dead letters |",
        "|" + "---|" * 15,
    ]
    for r in rows:
        lat = f"{r.p50_ms} / {r.p99_ms}" if r.p50_ms is not None else ""
        tuned = f"{r.p50_ms_tuned} / {r.p99_ms_tuned}" if r.p50_ms_tuned is not None else ""
        steady_cell = f"{r.steady_events_per_s:,.0f}" if r.steady_events_per_s else ""
        lines.append(
            f"| {r.pipeline} | {r.events_per_s:,.0f} | {_times(r.events_per_s, best_drain)} "
            f"| {steady_cell} | {_times(r.steady_events_per_s, best_steady)} "
            f"| {r.cpu_us_per_event or ''} | {_times(r.cpu_us_per_event, best_cost, low=True)} "
            f"| {r.joined_s} | {r.drain_s} | {lat} | {tuned} | {r.missing} | {r.duplicated} "
            f"| {r.differing} | {r.dead_letters} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="streamscore vs Quix Streams on the same job.")
    p.add_argument(
        "--events",
        type=int,
        default=200_000,
        help="pre-loaded events (200,000: streamscore drains them in about 4 s)",
    )
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--invalid-rate", type=float, default=0.03)
    p.add_argument(
        "--rate",
        type=float,
        default=500.0,
        help="steady rate for latency (500/s: one every form sustains)",
    )
    p.add_argument("--latency-seconds", type=float, default=10.0)
    p.add_argument(
        "--msg-events",
        type=int,
        default=10_000,
        help="events the per-message form drains (10,000: it runs near 1,000 events/s)",
    )
    p.add_argument(
        "--quix-commit-intervals",
        type=lambda t: [float(x) for x in t.split(",") if x],
        default=[1.0, 0.25],
        help="also drain with the batching form at these checkpoint intervals (1,0.25)",
    )
    p.add_argument("--quix-commit-interval", type=float, default=0.1, help="latency runs")
    p.add_argument("--train-rows", type=int, default=20_000)
    p.add_argument("--only", action="append", help="run only these pipelines (repeatable)")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if args.quick:
        args.events = min(args.events, 10_000)
        args.latency_seconds = min(args.latency_seconds, 4.0)
        args.train_rows = min(args.train_rows, 4_000)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("bench", level="warning", fmt="json", stream=sys.stderr)
    started = time.perf_counter()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peers-bench-")))
        broker = stack.enter_context(bench_broker(workdir, log))
        rows = PeersBench(args, broker.bootstrap, workdir).run()
    facts = machine()
    print(
        f"\nstreamscore vs Quix Streams: {facts['nproc']} CPUs ({facts['cpu']}), "
        f"{args.events:,} events ({args.invalid_rate:.0%} invalid), {args.partitions} "
        f"partitions, steady {args.rate:,.0f}/s; {time.perf_counter() - started:.0f}s\n"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(
            json.dumps({"machine": facts, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
