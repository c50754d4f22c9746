"""The end-to-end demo: one command shows the whole product working on a real broker.

It starts (or reuses) the local Kafka broker, trains and promotes a churn model, runs a
scorer, a drift watcher and a performance monitor, publishes a realistic stream with a
few percent of bad events (and every valid one's outcome) and a drift half-way,
promotes a second model mid-stream, and then shows what came out of each topic (live
ROC AUC per version among it). Everything it creates is under `<state_dir>/demo`, with
topics named for the run so a second demo never reads the first one's data.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from confluent_kafka import Consumer

from consumers.drift import run_drift
from consumers.performance import run_monitor
from consumers.scorer import run_scorer
from core.drift.config import DriftConfig
from core.kafka.admin import ensure_topics
from core.kafka.changelog import CheckpointStore
from core.kafka.config import consumer_config
from core.kafka.exceptions import DeliveryError
from core.kafka.local_broker import LocalBroker
from core.kafka.model_events import announcer
from core.kafka.producer import CheckedProducer
from core.logging import configure_logging
from core.performance.config import PerformanceConfig
from core.performance.partitions import PartitionedMonitor
from core.promotion import Announce, no_announcement, promote
from core.registry import ModelRegistry
from core.schemas import DeadLetterHeaders
from core.settings import Settings, TopicsConfig
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages
from producers.publisher import publish
from producers.scenarios import PRESETS, Scenario


@dataclass
class DemoResult:
    bootstrap: str
    topics: dict[str, str]
    events_sent: int
    predictions: int
    predictions_by_version: dict[int, int]
    dead_letters: dict[str, int]
    alerts: list[dict[str, Any]]
    seconds: float
    live_quality: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per model version: labelled predictions and live ROC AUC, from the monitor."""
    performance_alerts: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


class Narrator:
    """Numbered steps for a person on a terminal; silent when --json is asked."""

    def __init__(self, out: TextIO | None) -> None:
        self._out = out
        self._step = 0

    def step(self, text: str) -> None:
        self._step += 1
        self.say(f"\n[{self._step}] {text}")

    def say(self, text: str) -> None:
        if self._out is not None:
            print(text, file=self._out, flush=True)


def run_demo(
    settings: Settings,
    *,
    events: int = 20_000,
    rate: float | None = 5000.0,
    invalid_rate: float = 0.02,
    keep_broker: bool = False,
    out: TextIO | None = sys.stdout,
) -> DemoResult:
    started = time.monotonic()
    say = Narrator(out)
    home = settings.state_dir / "demo"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "demo.log"
    log_file = log_path.open("a", encoding="utf-8")
    configure_logging("demo", "info", "json", stream=log_file)

    say.step("Kafka broker")
    broker: LocalBroker | None = None
    if not settings.kafka.bootstrap_servers:
        broker = LocalBroker(settings.state_dir / "broker")
        was_running = broker.status() is not None
        state = broker.start()
        settings.kafka.bootstrap_servers = state.bootstrap
        say.say(
            f"    local Apache Kafka (KRaft) {'already running' if was_running else 'started'} "
            f"at {state.bootstrap}"
        )
        if was_running:
            keep_broker = True
    else:
        say.say(f"    using {settings.kafka.bootstrap_servers}")

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings.topics = TopicsConfig(
        **{k: f"{v}.demo-{run_id}" for k, v in TopicsConfig().model_dump().items()}
    )
    settings.registry.path = home / f"registry-{run_id}"
    settings.scorer.group_id = f"scorer-demo-{run_id}"
    settings.scorer.transactional_id_prefix = f"scorer-demo-{run_id}"
    settings.scorer.http_port = 0
    settings.registry.poll_s = 1.0
    settings.drift = DriftConfig(
        group_id=f"drift-demo-{run_id}",
        window_kind="event-time",
        window_seconds=2.0,
        allowed_lateness_s=1.0,
        min_window_events=500,
        batch_size=2000,
        http_port=0,
    )
    settings.monitor = PerformanceConfig(
        group_id=f"monitor-demo-{run_id}",
        window_seconds=2.0,
        label_delay_s=2.0,
        batch_timeout_ms=200,
        http_port=0,
    )
    settings.state_dir = home
    say.step("Topics of the contract")
    for topic in ensure_topics(settings):
        say.say(f"    {topic.outcome:7} {topic.name}")

    registry = ModelRegistry(settings.registry.path)
    name = settings.registry.model_name
    say.step("Train the churn model on generated reference data and promote it")
    v1 = _train(registry, name, seed=1, reason="initial model", say=say)

    stop = threading.Event()
    threads = [
        _background("scorer", lambda: run_scorer(settings, stop)),
        _background("drift", lambda: run_drift(settings, stop)),
        _background("monitor", lambda: run_monitor(settings, stop)),
    ]
    say.step("Scorer, drift watcher and performance monitor running (logs: " + str(log_path) + ")")

    half = events // 2
    drift: Scenario = PRESETS["charges-up"]
    generator = ChurnGenerator(seed=7, scenarios=[_starting(drift, half)])
    producer = CheckedProducer.from_settings(settings, raise_failures=False)
    mix = InvalidMix(seed=7, rate=invalid_rate)
    say.step(
        f"Publish {half:,} events ({invalid_rate:.0%} malformed or out of range) "
        f"at {rate or 'max'} events/s"
    )
    first = publish(
        producer,
        event_messages(generator, half, 0, mix),
        events_topic=settings.topics.events,
        outcomes_topic=settings.topics.outcomes,
        rate=rate,
        total=half,
        progress=out is not None and out.isatty(),
    )
    say.step("Retrain on fresh data and promote version 2 while events keep flowing")
    _train(
        registry,
        name,
        seed=2,
        reason="scheduled retrain",
        say=say,
        previous=v1,
        announce=announcer(settings),
    )
    say.step(f"Publish {events - half:,} more events; monthly charges drift up from here")
    second = publish(
        producer,
        event_messages(generator, events - half, half, mix),
        events_topic=settings.topics.events,
        outcomes_topic=settings.topics.outcomes,
        rate=rate,
        total=events - half,
        progress=out is not None and out.isatty(),
    )
    sent = first.events.acknowledged + second.events.acknowledged
    invalid = sum(first.invalid.values()) + sum(second.invalid.values())

    say.step("Read back what streamscore published (read_committed)")
    predictions = _read(settings, settings.topics.predictions, sent - invalid, 120)
    dead = _read(settings, settings.topics.dlq, invalid, 30)
    alerts = _read(settings, settings.topics.alerts, 1, 30)
    performance_alerts = _read(settings, settings.topics.performance_alerts, 1, 3)
    stop.set()
    for thread in threads:
        thread.join(60)

    parsed = [json.loads(m.value()) for m in predictions]
    result = DemoResult(
        bootstrap=settings.kafka.bootstrap_servers or "",
        topics=settings.topics.model_dump(),
        events_sent=sent,
        predictions=len(parsed),
        predictions_by_version=dict(sorted(Counter(p["model_version"] for p in parsed).items())),
        dead_letters=dict(
            Counter(
                dict(m.headers() or [])[DeadLetterHeaders.ERROR_TYPE.value].decode() for m in dead
            ).most_common()
        ),
        alerts=[json.loads(m.value()) for m in alerts],
        seconds=round(time.monotonic() - started, 1),
        samples=parsed[:3],
        live_quality=_live_quality(settings),
        performance_alerts=[json.loads(m.value()) for m in performance_alerts],
    )
    _summarize(result, sent - invalid, say)
    if broker is not None and not keep_broker:
        broker.stop()
        say.say("\nBroker stopped (use --keep-broker to leave it running).")
    log_file.close()
    return result


def _train(
    registry: ModelRegistry,
    name: str,
    *,
    seed: int,
    reason: str,
    say: Narrator,
    previous: int | None = None,
    announce: Announce = no_announcement,
) -> int:
    trained = train_and_evaluate(ChurnGenerator(seed=seed).reference(20_000), "logistic", seed)
    version = trained.register(
        registry,
        name,
        {"model_kind": "logistic"},
        trigger="demo",
        parent_version=previous,
    ).version
    done = promote(registry, name, version, reason=reason, announce=announce)
    if done.announce_problem is not None:
        raise DeliveryError(f"model event not delivered: {done.announce_problem}")
    m = trained.metrics
    say.say(
        f"    {name} v{version}: ROC AUC {m['roc_auc']:.3f}, accuracy {m['accuracy']:.3f}, "
        f"F1 {m['f1']:.3f} on a 25% holdout -> production"
    )
    return version


def _starting(scenario: Scenario, index: int) -> Scenario:
    from dataclasses import replace

    return replace(scenario, start_event=index)


def _background(name: str, target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _read(settings: Settings, topic: str, expected: int, timeout_s: float) -> list[Any]:
    consumer = Consumer(consumer_config(settings, f"demo-reader-{time.time_ns()}"))
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(out) < expected:
            out.extend(m for m in consumer.consume(2000, 0.5) if m.error() is None)
    finally:
        consumer.close()
    return out


def _live_quality(settings: Settings) -> dict[int, dict[str, Any]]:
    """Each version's figures over every labelled prediction, as the monitor committed
    them (its per-partition checkpoints, merged)."""
    config = settings.monitor
    store = CheckpointStore(settings, settings.topics.monitor_state, config.group_id)
    monitor = PartitionedMonitor(config)
    for partition, state in store.restore(range(settings.kafka.partitions)).items():
        if partition is not None:
            monitor.assign(partition, state)
    return {
        version: {"labelled": state.labelled, "roc_auc": state.roc_auc()}
        for (_, version), state in sorted(monitor.cumulative().items())
    }


def _summarize(r: DemoResult, expected: int, say: Narrator) -> None:
    say.say(f"    events sent and acknowledged: {r.events_sent:,}")
    versions = ", ".join(f"v{v}: {n:,}" for v, n in r.predictions_by_version.items())
    say.say(f"    predictions: {r.predictions:,} of {expected:,} valid events ({versions})")
    dead = ", ".join(f"{k} {v}" for k, v in r.dead_letters.items())
    say.say(f"    dead-lettered with their reason: {sum(r.dead_letters.values())} ({dead})")
    for sample in r.samples:
        say.say(
            f"    e.g. {sample['customer_id']}: churn probability {sample['probability']:.2f} "
            f"({sample['risk_level']}) by v{sample['model_version']}"
        )
    if r.alerts:
        for alert in r.alerts:
            say.say(
                f"    drift alert ({alert['severity']}): {', '.join(alert['drifting_features'])} "
                f"on model v{alert['model_version']}; report {Path(alert['report_path'])}"
            )
    else:
        say.say("    no drift alert was raised")
    quality = ", ".join(
        f"v{v}: {q['roc_auc']:.3f} ({q['labelled']:,} labelled)"
        for v, q in r.live_quality.items()
        if q["roc_auc"] is not None
    )
    say.say(f"    live ROC AUC from outcomes (monitor): {quality or 'no labelled predictions'}")
    for alert in r.performance_alerts:
        say.say(
            f"    performance alert ({alert['severity']}): {alert['metric']} "
            f"{alert['value']:.3f} < {alert['threshold']:.3f} on model v{alert['model_version']}"
        )
    say.say(f"    done in {r.seconds} s")
