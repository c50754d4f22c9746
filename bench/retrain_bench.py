"""How long the loop takes to close on 100,000 labelled events: from an alert landing on
`drift-alerts` to the first prediction by the new version on `churn-predictions`.

    .venv/bin/python bench/retrain_bench.py                  # 100,000 events, 3 runs
    .venv/bin/python bench/retrain_bench.py --events 20000   # quicker
    .venv/bin/python bench/retrain_bench.py --steps          # the offline steps only

The loop (default): a scorer and the retrainer run (threads of this process) with a
champion trained on the stable world in production, and a trickle of 200 events/s keeps
the scorer busy. Each run publishes one alert on the production version and waits for
the first prediction by the version the retrainer promotes; the broker timestamps of
the alert and of that prediction give the end-to-end time, which is split into read
back, train (join, split, fit, profile), gate, register, promote (staging and
production, announced) and swap (the rest: the worker starting, the scorer hearing the
announcement, loading the version and scoring its next batch). The decision record is
committed after the promotion and is not on this path.
The median of `--runs` runs is reported. Every run promotes (cooldown 0): run 1's
challenger beats a champion that never saw the drifted world, runs 2-3 tie with theirs.

Against a real broker (KAFKA_BOOTSTRAP_SERVERS, else a local KRaft broker started in a
temporary folder and stopped at the end). Pre-loads the events and outcomes topics
(not timed), then times what the retrainer will do for one alert: read both topics back
(`core.kafka.readback.read_back`), join (`core.retraining.dataset.build_dataset`), split,
fit and gate (`core.retraining.trainer.train_challenger`) against a champion trained on
the stable world; the events come from a concept-drifted world, so there is something
for the challenger to win.
`--steps` times those offline pieces alone. Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker import bench_broker
from confluent_kafka import Consumer, Producer

from core.features import FEATURES, TARGET
from core.kafka.admin import ensure_topics
from core.kafka.config import consumer_config, producer_config
from core.kafka.readback import read_back
from core.retraining.config import RetrainConfig
from core.retraining.dataset import build_dataset
from core.retraining.trainer import train_challenger
from core.settings import Settings, TopicsConfig, ValidationConfig
from core.training import build_pipeline
from producers.generator import ChurnGenerator
from producers.outcomes import outcome_value
from producers.scenarios import ConceptDrift

MAX_EVENT_BYTES = ValidationConfig().max_event_bytes
"""The shared rule every reader of the input applies."""


def preload(settings: Settings, n: int) -> None:
    producer = Producer(producer_config(settings, **{"linger.ms": 50, "batch.size": 1_000_000}))
    base_ms = int(time.time() * 1000) - 3_600_000
    drift = (ConceptDrift(strength=1.0),)
    for i, (event, churned) in enumerate(ChurnGenerator(9, drift).events(n)):
        stamp = base_ms + i * 10
        key = event["customer_id"].encode()
        observed = datetime.fromtimestamp(stamp / 1000, UTC) + timedelta(days=30)
        outcome = outcome_value(event["event_id"], event["customer_id"], churned, observed)
        for topic, value in (
            (settings.topics.events, json.dumps(event).encode()),
            (settings.topics.outcomes, outcome),
        ):
            while True:
                try:
                    producer.produce(topic, key=key, value=value, timestamp=stamp)
                    break
                except BufferError:
                    producer.poll(0.05)
    if producer.flush(60) != 0:
        raise SystemExit("preload: records were not acknowledged")


def measure(settings: Settings, n: int) -> dict[str, float]:
    reference = ChurnGenerator(seed=42).reference(20_000)
    champion = build_pipeline("logistic").fit(reference[list(FEATURES)], reference[TARGET])
    config = RetrainConfig(lookback_s=None, max_events=None)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    events = read_back(settings, settings.topics.events)
    seconds["read_back_events"] = time.perf_counter() - started
    t = time.perf_counter()
    outcomes = read_back(settings, settings.topics.outcomes)
    seconds["read_back_outcomes"] = time.perf_counter() - t
    t = time.perf_counter()
    data = build_dataset(
        events.records,
        outcomes.records,
        config,
        now=datetime.now(UTC),
        max_event_bytes=MAX_EVENT_BYTES,
    )
    seconds["join"] = time.perf_counter() - t
    t = time.perf_counter()
    result = train_challenger(data, champion, config, parent_version=1, alert_ids=["bench"])
    seconds["train_and_gate"] = time.perf_counter() - t
    seconds |= {f"  {k}": v for k, v in result.timings.items()}
    seconds["total"] = time.perf_counter() - started
    print(f"rows {data.lineage.rows:,} of {len(events.records):,} events read")
    print(f"gate: passed={result.passed}; " + "; ".join(result.verdict.reasons))
    return seconds


STEPS = {
    "read back": ("read_back_s",),
    "train": ("join_s", "split_s", "fit_s", "profile_s"),
    "gate": ("gate_s",),
    "register": ("register_s",),
    "promote": ("promote_s",),
}


def loop(settings: Settings, runs: int) -> list[dict[str, float]]:
    """End-to-end runs of the loop, each split into its steps (see the module docstring)."""
    import threading

    from structlog.testing import capture_logs

    from consumers.retrainer import run_retrainer
    from consumers.scorer import run_scorer
    from core.drift.alert import DriftAlert
    from core.registry import ModelRegistry
    from core.settings import RetrainConfig

    unique = time.time_ns()
    settings.scorer.group_id = f"bench-scorer-{unique}"
    settings.retrain = RetrainConfig(
        group_id=f"bench-retrain-{unique}",
        http_port=0,
        lookback_s=None,
        max_events=None,
        cooldown_s=0,
        batch_timeout_ms=100,
    )
    settings.scorer.http_port = 0
    settings.scorer.batch_timeout_ms = 20
    registry = ModelRegistry(settings.registry.path)
    reference = ChurnGenerator(seed=42).reference(20_000)
    from core.training import train_and_evaluate

    champion = train_and_evaluate(reference, "logistic", 42)
    v1 = champion.register(registry, "churn", {}, trigger="bench").version
    registry.promote("churn", v1, "production", "bench champion")
    stop = threading.Event()
    threads = [
        threading.Thread(target=run, args=(settings, stop), daemon=True)
        for run in (run_scorer, run_retrainer)
    ]
    trickle_stop = threading.Event()

    def trickle() -> None:
        producer = Producer(producer_config(settings))
        gen = ChurnGenerator(seed=77).events(None, 10_000_000)
        while not trickle_stop.is_set():
            for _ in range(20):
                event, _label = next(gen)
                producer.produce(
                    settings.topics.events, json.dumps(event).encode(), event["customer_id"]
                )
            producer.poll(0)
            time.sleep(0.1)
        producer.flush(10)

    results = []
    with capture_logs() as logs:
        for thread in [*threads, threading.Thread(target=trickle, daemon=True)]:
            thread.start()
        time.sleep(5)  # both consumers have joined their groups
        watcher = Consumer(consumer_config(settings, f"bench-watch-{time.time_ns()}"))
        watcher.subscribe([settings.topics.predictions, settings.topics.alerts])
        alert_producer = Producer(producer_config(settings))
        try:
            for i in range(runs):
                version = registry.production_version("churn") or v1
                now = datetime.now(UTC)
                alert = DriftAlert(
                    alert_id=f"bench-{i}-{time.time_ns()}", model_name="churn",
                    model_version=version, window_start=now - timedelta(minutes=5),
                    window_end=now, reference_events=20_000, current_events=5_000,
                    drifting_features=["monthly_charges"], feature_results=[],
                    severity="high", profile_digest="0" * 64,
                )  # fmt: skip
                alert_producer.produce(
                    settings.topics.alerts, alert.model_dump_json().encode(), b"churn"
                )
                alert_producer.flush(10)
                landed = first_new = None
                deadline = time.monotonic() + 300
                while first_new is None and time.monotonic() < deadline:
                    for m in watcher.consume(5000, 0.2):
                        if m.error() is not None:
                            continue
                        if m.topic() == settings.topics.alerts:
                            landed = m.timestamp()[1]
                        elif json.loads(m.value())["model_version"] > version:
                            first_new = m.timestamp()[1]
                            break
                if landed is None or first_new is None:
                    raise SystemExit(f"run {i + 1}: no prediction by a new version")
                # The scorer may swap before the retrainer logs the training as finished.
                while len([e for e in logs if e.get("event") == "retrain_finished"]) <= i:
                    time.sleep(0.05)
                finished = [e for e in logs if e.get("event") == "retrain_finished"][i]
                timings = finished["timings"]
                row = {name: sum(timings.get(k, 0.0) for k in keys) for name, keys in STEPS.items()}
                total = (first_new - landed) / 1000
                row["swap"] = max(0.0, total - sum(row.values()))
                row["total"] = total
                results.append(row)
                print(f"run {i + 1}: v{version} -> new version in {total:.2f} s")
        finally:
            trickle_stop.set()
            stop.set()
            watcher.close()
            for thread in threads:
                thread.join(60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", action="store_true", help="time the offline steps only")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="retrain-bench-") as tmp,
        bench_broker(Path(tmp)) as broker,
    ):
        workdir = Path(tmp)
        bootstrap = broker.bootstrap
        run = str(int(time.time()))
        topics = TopicsConfig(
            **{k: f"bench-{v}-{run}" for k, v in TopicsConfig().model_dump().items()}
        )
        settings = Settings(
            kafka={"bootstrap_servers": bootstrap, "partitions": args.partitions},
            topics=topics,
            state_dir=workdir / "state",
            registry={"path": workdir / "registry"},
            scorer={"transactional_id_prefix": f"bench-scorer-{run}"},
        )
        ensure_topics(settings)
        t = time.perf_counter()
        preload(settings, args.events)
        print(f"preloaded {args.events:,} events and outcomes in {time.perf_counter() - t:.1f} s")
        if args.steps:
            for name, value in measure(settings, args.events).items():
                print(f"{name:<22} {value:7.2f} s")
        else:
            import statistics

            rows = loop(settings, args.runs)
            print(f"\n| step | median of {len(rows)} (s) | runs (s) |\n|---|---:|---|")
            for name in rows[0]:
                values = [r[name] for r in rows]
                runs = ", ".join(f"{v:.2f}" for v in values)
                print(f"| {name} | {statistics.median(values):.2f} | {runs} |")


if __name__ == "__main__":
    main()
