"""End-to-end scoring benchmark: streamscore's scorer against its two baselines.

Against a real broker (KAFKA_BOOTSTRAP_SERVERS, else a local KRaft broker started in a
temporary folder and stopped at the end), one run measures, on the same machine:

(a) naive       the loop a hand-written consumer runs (`naive_loop.py`): one message,
                json.loads, CustomerEvent, predict + predict_proba on a one-row
                DataFrame, one produce, one synchronous commit;
(b) scorer      `consumers.scorer.run_scorer` (what `streamscore score` runs) in its own
                process: micro-batches, validation, dead letters, predictions and logs,
                Kafka transactions (exactly-once);
(c) passthrough consume and re-produce the same bytes, no parsing (`passthrough.py`): the
                transport's own limit in Python.

Throughput: every pipeline reads its own consumer group over one pre-loaded input topic
(N events, a few percent invalid) and writes its own output topic; events/s is taken from
the first to the last output visible to a read_committed reader, so start-up (model load,
group join) is left out. The naive loop is measured on a smaller sample (rates are per
second, so comparable). Latency: a fresh topic gets a steady paced stream (5,000 events/s
by default; the naive loop gets a rate it can sustain) and each output's latency runs from
its input's Kafka create timestamp to its arrival at the reader.

    python bench/scoring_bench.py                 # full size, a few minutes
    python bench/scoring_bench.py --quick         # smoke run, under a minute
    python bench/scoring_bench.py --json out.json --model logistic

Each throughput row also gets the pipeline's CPU seconds per event over its measured
span, and the broker's when its pid is known (`BENCH_BROKER_PID` with an external one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import confluent_kafka
import numpy as np
from arrivals import OutputReader, latencies_ms
from bench_settings import Override, apply_overrides, parse_overrides, run_settings, write_settings
from broker import bench_broker
from traffic import PacedStream, generate, preload

from core.kafka.admin import ensure_topics
from core.logging import configure_logging
from core.registry import ModelRegistry
from core.settings import Settings
from core.training import MODEL_KINDS, train_and_evaluate
from producers.generator import ChurnGenerator
from producers.messages import EventMessage

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SEED = 42
RAMP_MS = 1000
"""The first second of a steady stream is sent but left out of its latency figures."""


@dataclass
class Latency:
    rate: float
    """Offered input rate, events/s."""
    outputs: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    produced_p99_ms: float
    """p99 to the output's own Kafka timestamp (produce time, before the commit)."""
    driver_behind_ms: float
    """How far the paced producer ever fell behind its schedule."""


@dataclass
class Row:
    pipeline: str
    model: str | None
    events: int
    """Input events read."""
    outputs: int
    seconds: float
    events_per_s: float
    """Input events per second, first to last output visible."""
    latency: Latency | None = None
    """The median of `rounds`, figure by figure."""
    rounds: list[Latency] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    """1-minute load average after each measurement of this row (others' work shows here)."""
    cpu_us_per_event: float | None = None
    """The pipeline process's CPU (all threads) from its first output to its last, per
    input event: the figure a shared machine moves least."""
    broker_cpu_us_per_event: float | None = None
    """The broker's CPU over the same span, per input event (when its pid is known)."""


@dataclass
class Options:
    events: int
    naive_events: int
    models: list[str]
    partitions: int
    invalid_rate: float
    rate: float
    naive_rate: float
    latency_seconds: float
    train_rows: int
    latency_rounds: int
    variants: list[list[Override]]
    """Patched scorer variants run beside the scorer as it is."""
    skip: list[str]
    profile_dir: Path | None
    trace_dir: Path | None
    progress: bool


class Bench:
    """One run: a broker, a registry of trained models, a pre-loaded input topic."""

    def __init__(
        self, opts: Options, bootstrap: str, workdir: Path, broker_pid: int | None = None
    ) -> None:
        self.opts = opts
        self.broker_pid = broker_pid
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.registry = workdir / "registry"
        self.run_id = uuid.uuid4().hex[:6]
        self.input_topic = f"bench-customer-events-{self.run_id}"
        self.messages: list[EventMessage] = []
        self.valid = 0
        self.rows: list[Row] = []

    # ---------------------------------------------------------------- set-up

    def settings(
        self, run: str, model: str = "logistic", events_topic: str | None = None
    ) -> Settings:
        s = run_settings(
            self.bootstrap,
            run=f"{self.run_id}-{run}",
            events_topic=events_topic or self.input_topic,
            partitions=self.opts.partitions,
            registry=self.registry,
            model_name=f"churn-{model}",
            state_dir=self.workdir / "state",
        )
        ensure_topics(s)
        return s

    def train(self) -> None:
        registry = ModelRegistry(self.registry)
        frame = ChurnGenerator(seed=SEED).reference(self.opts.train_rows)
        for kind in self.opts.models:
            log(f"training {kind} on {len(frame):,} rows")
            result = train_and_evaluate(frame, kind, SEED)
            version = result.register(
                registry, f"churn-{kind}", {"threshold": 0.5}, trigger="bench"
            ).version
            registry.promote(f"churn-{kind}", version, "production", "bench")

    def load_input(self) -> None:
        o = self.opts
        log(f"generating {o.events:,} events ({o.invalid_rate:.0%} invalid)")
        self.messages = generate(o.events, seed=SEED, invalid_rate=o.invalid_rate)
        self.valid = sum(1 for m in self.messages if m.invalid is None)
        started = time.perf_counter()
        preload(self.settings("input"), self.input_topic, self.messages, o.progress)
        log(f"pre-loaded {o.events:,} events in {time.perf_counter() - started:.1f}s")

    # ---------------------------------------------------------------- pipelines

    def command(
        self,
        kind: str,
        s: Settings,
        run: str,
        max_events: int | None = None,
        variant: Sequence[Override] = (),
    ) -> list[str]:
        if variant:
            s = apply_overrides(s, list(variant))
        path = write_settings(s, self.workdir / f"{run}.settings.json")
        if kind == "scorer":
            cmd = [sys.executable, str(BENCH_DIR / "scorer_process.py"), str(path)]
            if self.opts.trace_dir is not None:
                self.opts.trace_dir.mkdir(parents=True, exist_ok=True)
                cmd += ["--trace", str(self.opts.trace_dir / f"{run}.json")]
            if self.opts.profile_dir is not None:
                self.opts.profile_dir.mkdir(parents=True, exist_ok=True)
                cmd += ["--profile", str(self.opts.profile_dir / f"{run}.prof")]
            return cmd
        script = {"naive": "naive_loop.py", "passthrough": "passthrough.py"}[kind]
        cmd = [
            sys.executable,
            str(BENCH_DIR / script),
            str(path),
            "--group",
            s.scorer.group_id,
            "--output",
            s.topics.predictions,
        ]
        if max_events is not None:
            cmd += ["--max-events", str(max_events)]
        return cmd

    def throughput(self, kind: str, model: str | None, variant: Sequence[Override] = ()) -> Row:
        o = self.opts
        n_in = o.naive_events if kind == "naive" else o.events
        label = _label(kind, variant)
        run = f"{kind}-{model or 'none'}-{_slug(variant)}"
        s = self.settings(run, model or "logistic")
        expected = {"scorer": self.valid, "passthrough": o.events}.get(kind)
        max_events = n_in if kind != "scorer" else None
        cmd = self.command(kind, s, run, max_events, variant)
        reader = OutputReader(s, s.topics.predictions, o.partitions)
        from groups import cpu_seconds  # groups imports this module: import it late

        first: list[float] = []
        with Pipeline(cmd, self.workdir / f"{run}.log") as proc:

            def at_first() -> None:
                first.extend([cpu_seconds(proc.pid), cpu_seconds(self.broker_pid)])

            a = reader.read(
                expected=expected,
                done=proc.exited,
                timeout_s=max(180.0, n_in / 500),
                progress=f"{label} {model or ''}".strip() if o.progress else None,
                on_first=at_first,
            )
            last = [cpu_seconds(proc.pid), cpu_seconds(self.broker_pid)]
        reader.close()
        if expected is not None and len(a) < expected:
            raise RuntimeError(f"{label}: {len(a)} of {expected} outputs; log {proc.log}")
        if len(a) < 2:
            raise RuntimeError(f"{label}: no outputs; log {proc.log}:\n{proc.tail()}")
        rate = a.span_rate() * n_in / len(a)
        row = Row(label, model, n_in, len(a), round(a.span_seconds(), 3), round(rate, 1))
        row.load.append(round(os.getloadavg()[0], 2))
        # Events handled in the span: the outputs after the first, as for the rate.
        spanned = max(len(a) - 1, 1) * n_in / len(a)
        if first and last[0] > 0:
            row.cpu_us_per_event = round((last[0] - first[0]) / spanned * 1e6, 2)
            if self.broker_pid is not None:
                row.broker_cpu_us_per_event = round((last[1] - first[1]) / spanned * 1e6, 2)
        cpu = f", {row.cpu_us_per_event} CPU us/event" if row.cpu_us_per_event else ""
        log(f"{label:<24} {model or '-':<9} {rate:>12,.0f} events/s  ({len(a):,} outputs{cpu})")
        self.rows.append(row)
        return row

    def latency(
        self,
        kind: str,
        model: str | None,
        row: Row | None,
        variant: Sequence[Override] = (),
        round_no: int = 0,
    ) -> None:
        o = self.opts
        rate = o.naive_rate if kind == "naive" else o.rate
        n = max(1, int(rate * o.latency_seconds))
        label = _label(kind, variant)
        run = f"live-{kind}-{model or 'none'}-{_slug(variant)}" + (
            f"-r{round_no}" if round_no else ""
        )
        topic = f"bench-live-{self.run_id}-{run}"
        s = self.settings(run, model or "logistic", events_topic=topic)
        warm = generate(50, seed=SEED + 1, invalid_rate=0.0, start_index=10_000_000)
        steady = generate(n, seed=SEED + 1, invalid_rate=o.invalid_rate, start_index=20_000_000)
        cmd = self.command(kind, s, run, None, variant)
        reader = OutputReader(s, s.topics.predictions, o.partitions, keep_keys=True)
        stream = PacedStream(s, topic, steady, rate)
        with Pipeline(cmd, self.workdir / f"{run}.log") as proc:
            stream.warm(warm)
            reader.read(expected=len(warm), done=proc.exited, timeout_s=120)
            if len(reader.arrivals) < len(warm):
                raise RuntimeError(f"{label}: no warm-up outputs; log {proc.log}:\n{proc.tail()}")
            stream.start()
            expected = len(warm) + (
                sum(1 for m in steady if m.invalid is None) if kind != "passthrough" else n
            )
            a = reader.read(
                expected=expected,
                done=lambda: not stream.running(),
                timeout_s=o.latency_seconds + 120,
                idle_s=3.0,
                progress=f"{label} at {rate:,.0f}/s" if o.progress else None,
            )
            stream.join(30)
        reader.close()
        visible, produced = latencies_ms(a, stream.created, since_ms=stream.started_ms + RAMP_MS)
        if len(visible) == 0:
            raise RuntimeError(f"{label}: no steady outputs; log {proc.log}")
        p = np.percentile(visible, [50, 95, 99])
        lat = Latency(
            rate=rate,
            outputs=len(visible),
            p50_ms=round(float(p[0]), 1),
            p95_ms=round(float(p[1]), 1),
            p99_ms=round(float(p[2]), 1),
            max_ms=round(float(visible.max()), 1),
            produced_p99_ms=round(float(np.percentile(produced, 99)), 1),
            driver_behind_ms=round(stream.behind_s * 1000, 1),
        )
        log(
            f"{label:<24} {model or '-':<9} at {rate:,.0f}/s: p50 {lat.p50_ms} ms, "
            f"p99 {lat.p99_ms} ms ({lat.outputs:,} outputs, round {round_no + 1})"
        )
        if row is None:
            row = Row(label, model, 0, 0, 0.0, 0.0)
            self.rows.append(row)
        row.rounds.append(lat)
        row.latency = median_latency(row.rounds)
        row.load.append(round(os.getloadavg()[0], 2))

    def warm_up(self) -> None:
        """A scorer run of each kind first, not kept: a new broker's JVM compiles its hot
        paths during the first minutes of work, and whatever was measured first paid for
        it. The same scorer run three times in a row on a new broker: 34,778, 40,274 and
        45,139 events/s; p99 at 5,000/s 223, 133 and 107 ms."""
        o = self.opts
        model, kept, run_id = o.models[0], len(self.rows), self.run_id
        self.run_id = f"{run_id}-warm"  # its own groups and live topic, the same input
        try:
            log("warming the broker up (a scorer run of each kind, not kept)")
            self.throughput("scorer", model)
            if "latency" not in o.skip:
                self.latency("scorer", model, None)
        finally:
            self.run_id = run_id
            del self.rows[kept:]

    def settle_broker(self, idle_cpu: float = 0.1, longest_s: float = 30.0) -> None:
        """Wait until the broker uses less than `idle_cpu` of a CPU over a second.

        After the throughput runs the broker goes on working for a while (flushing the
        logs it wrote, collecting garbage), and whichever latency run came first paid for
        it: the same scorer measured twice in a row gave p99 215 then 131 ms."""
        if self.broker_pid is None:
            return
        from groups import cpu_seconds  # groups imports this module: import it late

        deadline = time.monotonic() + longest_s
        before = cpu_seconds(self.broker_pid)
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = cpu_seconds(self.broker_pid)
            if now - before < idle_cpu:
                return
            before = now

    # ---------------------------------------------------------------- the run

    def run(self) -> list[Row]:
        o = self.opts
        self.train()
        self.load_input()
        self.warm_up()
        # Throughput first, latency after: by then the broker's JVM is warm.
        live: list[tuple[str, str | None, Row, Sequence[Override]]] = []
        if "passthrough" not in o.skip:
            live.append(("passthrough", None, self.throughput("passthrough", None), ()))
        for model in o.models:
            if "naive" not in o.skip:
                live.append(("naive", model, self.throughput("naive", model), ()))
            for variant in [[], *o.variants]:
                live.append(("scorer", model, self.throughput("scorer", model, variant), variant))
        if "latency" not in o.skip:
            runs = [r for r in live if r[1] in (None, o.models[0])]
            # Every other round in reverse order, so no pipeline always goes first.
            for round_no in range(o.latency_rounds):
                for kind, model, row, variant in runs if round_no % 2 == 0 else runs[::-1]:
                    self.settle_broker()
                    self.latency(kind, model, row, variant, round_no)
        return self.rows


class Pipeline:
    """A pipeline subprocess, stopped with SIGTERM (then SIGKILL) on leaving the block."""

    def __init__(self, cmd: list[str], log_path: Path) -> None:
        self.cmd = cmd
        self.log = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Pipeline:
        out = self.log.open("wb")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(REPO_ROOT)])}
        self._proc = subprocess.Popen(
            self.cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env
        )
        out.close()
        return self

    def exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.returncode not in (0, -signal.SIGTERM) and exc[0] is None:
            raise RuntimeError(f"{self.cmd[1]} exited {proc.returncode}:\n{self.tail()}")


def _label(kind: str, variant: Sequence[Override]) -> str:
    name = {"naive": "(a) naive loop", "scorer": "(b) scorer", "passthrough": "(c) passthrough"}
    return name[kind] + (" " + ",".join(f"{k}={v}" for k, v in variant) if variant else "")


def _slug(variant: Sequence[Override]) -> str:
    if not variant:
        return "base"
    text = "-".join(f"{k}-{v}" for k, v in variant)
    return "".join(c if c.isalnum() or c == "-" else "_" for c in text)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libs = Path(os.environ.get("STREAMSCORE_KAFKA_LIBS") or REPO_ROOT / ".cache" / "kafka" / "libs")
    kafka = sorted(p.name for p in libs.glob("kafka_2.13-*.jar")) if libs.exists() else []
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka_jar": kafka[0] if kafka else None,
    }


def median_latency(rounds: Sequence[Latency]) -> Latency:
    """Each figure's median over the rounds (the rate is the same in all)."""

    def med(values: Iterable[float]) -> float:
        return round(float(np.median(list(values))), 1)

    return Latency(
        rate=rounds[0].rate,
        outputs=int(np.median([r.outputs for r in rounds])),
        p50_ms=med(r.p50_ms for r in rounds),
        p95_ms=med(r.p95_ms for r in rounds),
        p99_ms=med(r.p99_ms for r in rounds),
        max_ms=med(r.max_ms for r in rounds),
        produced_p99_ms=med(r.produced_p99_ms for r in rounds),
        driver_behind_ms=max(r.driver_behind_ms for r in rounds),
    )


def table(rows: list[Row]) -> str:
    naive = {r.model: r for r in rows if r.pipeline == "(a) naive loop"}
    passthrough = next((r for r in rows if r.pipeline == "(c) passthrough"), None)
    head = (
        "| pipeline | model | events | events/s | vs (a) same model | vs (c) "
        "| latency at rate | p50 ms | p95 ms | p99 ms | max ms | p99 ms by round "
        "| CPU us/event (broker) |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        base = naive.get(r.model)
        vs_a = (
            f"{r.events_per_s / base.events_per_s:,.0f}x"
            if base and r is not base and r.pipeline.startswith("(b)")
            else ""
        )
        vs_c = (
            f"{r.events_per_s / passthrough.events_per_s:.3f}"
            if passthrough and r is not passthrough
            else ""
        )
        events = f"{r.events:,}" + (" (sample)" if r.pipeline.startswith("(a)") else "")
        lat = r.latency
        cells = [r.pipeline, r.model or "-", events, f"{r.events_per_s:,.0f}", vs_a, vs_c]
        if lat is None:
            cells += ["", "", "", "", "", ""]
        else:
            cells += [
                f"{lat.rate:,.0f}/s",
                f"{lat.p50_ms:.1f}",
                f"{lat.p95_ms:.1f}",
                f"{lat.p99_ms:.1f}",
                f"{lat.max_ms:.1f}",
                ", ".join(f"{x.p99_ms:.0f}" for x in r.rounds),
            ]
        cpu = "" if r.cpu_us_per_event is None else f"{r.cpu_us_per_event:.1f}"
        if r.broker_cpu_us_per_event is not None:
            cpu += f" ({r.broker_cpu_us_per_event:.1f})"
        cells.append(cpu)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[dict[str, Any]]:
    """The issue's targets, met or not, from the rows that measure them."""
    out: list[dict[str, Any]] = []
    naive = {r.model: r for r in rows if r.pipeline == "(a) naive loop"}
    passthrough = next((r for r in rows if r.pipeline == "(c) passthrough"), None)
    scorers = [r for r in rows if r.pipeline == "(b) scorer"]
    for r in scorers:
        if r.model == "forest" and "forest" in naive:
            v = r.events_per_s / naive["forest"].events_per_s
            out.append({"target": "(b)/(a) forest >= 100x", "value": round(v, 1), "met": v >= 100})
        if r.model == "logistic" and passthrough is not None:
            v = r.events_per_s / passthrough.events_per_s
            out.append(
                {
                    "target": "(b)/(c) logistic >= 0.15 (aim 0.25)",
                    "value": round(v, 3),
                    "met": v >= 0.15,
                }
            )
        if r.latency is not None and r.latency.rate >= 5000:
            v = r.latency.p99_ms
            out.append(
                {
                    "target": f"(b) {r.model} p99 at {r.latency.rate:,.0f}/s <= 100 ms",
                    "value": v,
                    "met": v <= 100,
                }
            )
    return out


# -------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Scorer vs naive loop vs passthrough, end to end on a real broker.",
    )
    p.add_argument("--events", type=int, default=200_000, help="pre-loaded events (200,000)")
    p.add_argument(
        "--naive-events",
        type=int,
        default=2_000,
        help="events the naive loop reads (2,000: it runs at ~100-300 events/s)",
    )
    p.add_argument(
        "--model",
        default="logistic,forest",
        help=f"comma-separated kinds of {', '.join(MODEL_KINDS)}; the first one "
        "also gets the latency runs (default logistic,forest)",
    )
    p.add_argument("--partitions", type=int, default=6, help="input partitions (6)")
    p.add_argument("--invalid-rate", type=float, default=0.03, help="share of invalid events")
    p.add_argument("--rate", type=float, default=5000.0, help="steady rate for latency (5,000/s)")
    p.add_argument(
        "--naive-rate",
        type=float,
        default=20.0,
        help="steady rate for the naive loop's latency (20/s)",
    )
    p.add_argument("--latency-seconds", type=float, default=20.0, help="steady stream length")
    p.add_argument(
        "--latency-rounds",
        type=int,
        default=2,
        help="latency runs per pipeline, every other round in reverse order; the table "
        "gives each figure's median (2)",
    )
    p.add_argument("--train-rows", type=int, default=20_000)
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        type=parse_overrides,
        metavar="SECTION.KEY=VALUE[,...]",
        help="also run the scorer with these settings changed, beside the scorer as it is "
        "(e.g. scorer.batch_timeout_ms=10); repeat for more variants",
    )
    p.add_argument(
        "--skip", action="append", default=[], choices=["naive", "passthrough", "latency"]
    )
    p.add_argument("--profile-dir", type=Path, help="write a cProfile of each scorer run here")
    p.add_argument("--trace-dir", type=Path, help="write per-batch timings of each scorer run here")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run under a minute")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_KINDS]
    if unknown or not models:
        print(f"unknown model kind(s) {unknown}; choose from {MODEL_KINDS}", file=sys.stderr)
        return 2
    if args.quick:
        args.events = min(args.events, 10_000)
        args.naive_events = min(args.naive_events, 200)
        args.latency_seconds = min(args.latency_seconds, 3.0)
        args.latency_rounds = 1
        args.train_rows = min(args.train_rows, 4_000)
    opts = Options(
        events=args.events,
        naive_events=args.naive_events,
        models=models,
        partitions=args.partitions,
        invalid_rate=args.invalid_rate,
        rate=args.rate,
        naive_rate=args.naive_rate,
        latency_seconds=args.latency_seconds,
        latency_rounds=max(1, args.latency_rounds),
        train_rows=args.train_rows,
        variants=args.variant,
        skip=args.skip,
        profile_dir=args.profile_dir,
        trace_dir=args.trace_dir,
        progress=sys.stderr.isatty(),
    )
    configure_logging("bench", level="warning", fmt="json", stream=sys.stderr)
    started = time.perf_counter()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scoring-bench-")))
        broker = stack.enter_context(bench_broker(workdir, log))
        rows = Bench(opts, broker.bootstrap, workdir, broker.pid).run()
    elapsed = time.perf_counter() - started
    facts = machine()
    met = targets(rows)
    print(
        f"\nstreamscore scoring benchmark: {facts['nproc']} CPUs ({facts['cpu']}), "
        f"{opts.events:,} events ({opts.invalid_rate:.0%} invalid), "
        f"{opts.partitions} partitions, {elapsed:.0f}s\n"
    )
    print(table(rows))
    print()
    for t in met:
        print(f"- {t['target']}: {t['value']} {'met' if t['met'] else 'MISSED'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "options": {
                        **asdict(opts),
                        "profile_dir": str(opts.profile_dir),
                        "trace_dir": str(opts.trace_dir),
                    },
                    "seconds": round(elapsed, 1),
                    "rows": [asdict(r) for r in rows],
                    "targets": met,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
