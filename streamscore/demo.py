"""The end-to-end demo: one command shows the whole product working on a real broker.

It starts (or reuses) the local Kafka broker, trains and promotes a churn model, runs a
scorer, a drift watcher, a performance monitor and the retrainer, publishes a realistic
stream with outcomes and a few percent of bad events, then a drift: the watcher alerts,
the retrainer reads the labelled events back from Kafka, gates a challenger against the
champion and promotes it, and the scorer switches to it mid-stream. Then it shows what
came out of each topic (live ROC AUC per version among it). Everything it creates is
under `<state_dir>/demo`, with topics named for the run so a second demo never reads
the first one's data.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from confluent_kafka import Consumer

from consumers.drift import run_drift
from consumers.performance import run_monitor
from consumers.retrainer import run_retrainer
from consumers.scorer import run_scorer
from core.drift.config import DriftConfig
from core.kafka.admin import ensure_topics
from core.kafka.changelog import CheckpointStore
from core.kafka.config import consumer_config
from core.kafka.exceptions import DeliveryError
from core.kafka.local_broker import LocalBroker
from core.kafka.producer import CheckedProducer
from core.logging import configure_logging
from core.performance.config import PerformanceConfig
from core.performance.partitions import PartitionedMonitor
from core.promotion import no_announcement, promote
from core.registry import ModelRegistry
from core.retraining.config import RetrainConfig
from core.retraining.decision import RetrainDecision
from core.schemas import DeadLetterHeaders
from core.settings import Settings, TopicsConfig
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages
from producers.publisher import publish
from producers.scenarios import PRESETS, Scenario
from streamscore.interruption import Interruption
from streamscore.live_display import Display, SilentDisplay, display_for, frame_text
from streamscore.live_feed import LiveFeed

DEMO_COOLDOWN_S = 15.0
"""The retrainer's cooldown after a promotion, short so the demo fits in a minute."""
CHUNK = 2000
"""Drifted events are published in chunks of this many, watching for the decision."""
LIVE_PERIOD_S = 0.33
"""The live view is redrawn this often on a terminal."""
PLAIN_PERIOD_S = 1.0
"""Off a terminal the feed samples this often (and prints every `PLAIN_EVERY_S`)."""
STOP_GRACE_S = 30.0
"""How long the processes get, together, to finish their batch in hand at the end."""


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
    decisions: list[dict[str, Any]] = field(default_factory=list)
    alert_to_new_version_s: float | None = None
    """From the first alert landing on drift-alerts to the first prediction by the
    promoted challenger on churn-predictions (broker timestamps)."""
    log_path: str = ""
    """Every process's JSON log lines."""


class Narrator:
    """Numbered steps for a person, through the display (live view, plain lines or
    nothing under --json); the current step titles the live view."""

    def __init__(self, display: Display, interruption: Interruption) -> None:
        self._display = display
        self._interruption = interruption
        self._step = 0
        self.current = ""

    def step(self, text: str) -> None:
        """Each step starts where stopping is safe: a Ctrl-C asked for stops it here."""
        self._interruption.check()
        self._step += 1
        self.current = f"[{self._step}] {text}"
        self.say(f"\n{self.current}")

    def say(self, text: str) -> None:
        self._display.say(text)


def run_demo(
    settings: Settings,
    *,
    events: int = 20_000,
    rate: float | None = 5000.0,
    invalid_rate: float = 0.02,
    keep_broker: bool = False,
    out: TextIO | None = sys.stdout,
    frame: Path | None = None,
) -> DemoResult:
    """The whole loop; on any exit (Ctrl-C and SIGTERM among them) the processes stop and
    a broker the demo started is stopped, so nothing is left running."""
    with Interruption() as interruption, ExitStack() as cleanup:
        return _run_demo(
            settings,
            cleanup,
            interruption,
            events,
            rate,
            invalid_rate,
            keep_broker,
            display_for(out),
            frame,
        )


def _run_demo(
    settings: Settings,
    cleanup: ExitStack,
    interruption: Interruption,
    events: int,
    rate: float | None,
    invalid_rate: float,
    keep_broker: bool,
    display: Display,
    frame: Path | None,
) -> DemoResult:
    started = time.monotonic()
    say = Narrator(display, interruption)
    home = settings.state_dir / "demo"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "demo.log"
    log_file = cleanup.enter_context(log_path.open("a", encoding="utf-8"))
    configure_logging("demo", "info", "json", stream=log_file)

    say.step("Kafka broker")
    broker: LocalBroker | None = None
    if not settings.kafka.bootstrap_servers:  # as the command's help says: the env var first
        settings.kafka.bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if not settings.kafka.bootstrap_servers:
        broker = LocalBroker(settings.state_dir / "broker")
        was_running = broker.status() is not None
        if not was_running and not keep_broker:
            cleanup.callback(_stop_broker, broker, say, interruption)
        state = broker.start()
        settings.kafka.bootstrap_servers = state.bootstrap
        say.say(
            f"    local Apache Kafka (KRaft) {'already running' if was_running else 'started'} "
            f"at {state.bootstrap}"
        )
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

    settings.retrain = RetrainConfig(
        group_id=f"retrain-demo-{run_id}",
        http_port=0,
        batch_timeout_ms=200,
        lookback_s=None,  # generated event times start on 2026-01-01: take them all
        max_events=20_000,
        cooldown_s=DEMO_COOLDOWN_S,
        bootstrap_resamples=500,
    )
    registry = ModelRegistry.from_config(settings.registry)
    name = settings.registry.model_name
    say.step("Train the churn model on generated reference data and promote it")
    _train(registry, name, seed=1, reason="initial model", say=say)
    promoted_at = time.monotonic()

    processes = cleanup.enter_context(ExitStack())
    stop = threading.Event()
    threads: list[threading.Thread] = []
    processes.callback(_stop_processes, stop, threads)
    threads += [
        _background("scorer", lambda: run_scorer(settings, stop)),
        _background("drift", lambda: run_drift(settings, stop)),
        _background("monitor", lambda: run_monitor(settings, stop)),
        _background("retrainer", lambda: run_retrainer(settings, stop)),
    ]
    feed = LiveFeed(
        settings,
        log_path,
        step=lambda: say.current,
        show=display.show,
        period_s=LIVE_PERIOD_S if display.live else PLAIN_PERIOD_S,
        started=started,
    )
    if frame is not None or not isinstance(display, SilentDisplay):
        processes.callback(display.close)
        processes.callback(feed.stop)
        feed.start()
    say.step(
        "Scorer, drift watcher, performance monitor and retrainer running (logs: "
        + str(log_path)
        + ")"
    )

    stable = events // 2
    drift: Scenario = PRESETS["charges-up"]
    generator = ChurnGenerator(seed=7, scenarios=[_starting(drift, stable)])
    producer = CheckedProducer.from_settings(settings, raise_failures=False)
    mix = InvalidMix(seed=7, rate=invalid_rate)

    def send(n: int, start: int) -> tuple[int, int]:
        """In chunks, so a Ctrl-C stops the stream within a chunk."""
        acknowledged = invalid = 0
        for offset in range(0, n, CHUNK):
            interruption.check()
            size = min(CHUNK, n - offset)
            report = publish(
                producer,
                event_messages(generator, size, start + offset, mix),
                events_topic=settings.topics.events,
                outcomes_topic=settings.topics.outcomes,
                rate=rate,
                total=size,
                progress=False,  # the display shows the flow
            )
            if report.interrupted:
                raise KeyboardInterrupt
            acknowledged += report.events.acknowledged
            invalid += sum(report.invalid.values())
        return acknowledged, invalid

    say.step(
        f"Publish {stable:,} stable events with their outcomes ({invalid_rate:.0%} malformed "
        f"or out of range) at {rate or 'max'} events/s"
    )
    sent, invalid = send(stable, 0)
    # The retrainer cools down after any promotion, v1's included: drift starts after it.
    interruption.sleep(promoted_at + DEMO_COOLDOWN_S - time.monotonic())
    say.step("Monthly charges drift up from here; publish until the loop closes")
    watch = _Watch(settings)
    processes.callback(watch.close)
    decisions: list[RetrainDecision] = []
    index = stable
    while not any(d.outcome == "promoted" for d in decisions) and index < stable + 30 * CHUNK:
        n_sent, n_invalid = send(CHUNK, index)
        sent, invalid, index = sent + n_sent, invalid + n_invalid, index + CHUNK
        for alert in watch.alerts():
            say.say(
                f"    drift alert ({alert['severity']}): {', '.join(alert['drifting_features'])} "
                f"on model v{alert['model_version']} after {index - stable:,} drifted events"
            )
        decisions += watch.decisions(wait_s=0.0 if index < stable + 3 * CHUNK else 2.0)
    for decision in decisions:
        _narrate(decision, say)
    tail = max(events // 4, CHUNK)
    say.step(f"Publish {tail:,} more drifted events: the scorer now serves the challenger")
    n_sent, n_invalid = send(tail, index)
    sent, invalid = sent + n_sent, invalid + n_invalid
    if frame is not None and feed.latest is not None:
        frame.write_text(frame_text(feed.latest), encoding="utf-8")

    say.step("Read back what streamscore published (read_committed)")
    check = interruption.check
    predictions = _read(settings, settings.topics.predictions, sent - invalid, 120, check)
    dead = _read(settings, settings.topics.dlq, invalid, 30, check)
    alerts = _read(settings, settings.topics.alerts, 1, 30, check)
    performance_alerts = _read(settings, settings.topics.performance_alerts, 1, 3, check)
    decisions = [
        RetrainDecision.model_validate_json(m.value())
        for m in _read(settings, settings.topics.retrain_decisions, len(decisions), 10, check)
    ]
    processes.close()

    parsed = [json.loads(m.value()) for m in predictions]
    new = next((d.challenger_version for d in decisions if d.outcome == "promoted"), None)
    first_new = min(
        (m.timestamp()[1] for m, p in zip(predictions, parsed, strict=True)
         if p["model_version"] == new),
        default=None,
    )  # fmt: skip
    first_alert = min((m.timestamp()[1] for m in alerts), default=None)
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
        decisions=[d.model_dump(mode="json") for d in decisions],
        alert_to_new_version_s=(first_new - first_alert) / 1000
        if first_new is not None and first_alert is not None
        else None,
        log_path=str(log_path),
    )
    _summarize(result, sent - invalid, say)
    return result


def _train(registry: ModelRegistry, name: str, *, seed: int, reason: str, say: Narrator) -> int:
    trained = train_and_evaluate(ChurnGenerator(seed=seed).reference(20_000), "logistic", seed)
    version = trained.register(registry, name, {"model_kind": "logistic"}, trigger="demo").version
    done = promote(registry, name, version, reason=reason, announce=no_announcement)
    if done.announce_problem is not None:
        raise DeliveryError(f"model event not delivered: {done.announce_problem}")
    m = trained.metrics
    say.say(
        f"    {name} v{version}: ROC AUC {m['roc_auc']:.3f}, accuracy {m['accuracy']:.3f}, "
        f"F1 {m['f1']:.3f} on a 25% holdout -> production"
    )
    return version


def _narrate(d: RetrainDecision, say: Narrator) -> None:
    """One retrain decision as the summary's lines: data, both models, the verdict."""
    say.say(f"    retrainer: {d.outcome} ({d.reason})")
    if d.data is not None:
        say.say(f"      read back and joined {d.data.rows:,} labelled events from Kafka")
    g = d.gate
    if g is not None:
        for label, m in (("champion", g.champion), ("challenger", g.challenger)):
            if m is not None:
                say.say(
                    f"      {label:<10} on the newest {g.holdout_rows:,}: ROC AUC "
                    f"{m['roc_auc']:.3f}, accuracy {m['accuracy']:.3f}, F1 {m['f1']:.3f}, "
                    f"log loss {m['log_loss']:.3f}, Brier {m['brier']:.3f}"
                )
        if g.difference is not None and g.interval_low is not None:
            say.say(
                f"      paired bootstrap: {g.metric} advantage {g.difference:+.4f}, "
                f"{g.confidence:.0%} lower bound {g.interval_low:+.4f} vs margin -{g.margin} "
                f"-> {'passed' if g.passed else 'failed'}"
            )


class _Watch:
    """Alerts and retrain decisions as they land, for the narration."""

    def __init__(self, settings: Settings) -> None:
        self._topics = settings.topics
        self._consumer = Consumer(consumer_config(settings, f"demo-watch-{time.time_ns()}"))
        self._consumer.subscribe([self._topics.alerts, self._topics.retrain_decisions])
        self._alerts: list[dict[str, Any]] = []
        self._decisions: list[RetrainDecision] = []

    def _poll(self, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            for m in self._consumer.consume(100, 0.1):
                if m.error() is not None:
                    continue
                if m.topic() == self._topics.alerts:
                    self._alerts.append(json.loads(m.value() or b"{}"))
                else:
                    self._decisions.append(RetrainDecision.model_validate_json(m.value() or b""))
            if time.monotonic() >= deadline:
                return

    def alerts(self) -> list[dict[str, Any]]:
        self._poll(0.0)
        found, self._alerts = self._alerts, []
        return found

    def decisions(self, wait_s: float) -> list[RetrainDecision]:
        self._poll(wait_s)
        found, self._decisions = self._decisions, []
        return found

    def close(self) -> None:
        self._consumer.close()


def _stop_processes(stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Each process finishes its batch in hand and leaves; one still busy after the
    grace period is a daemon thread, gone with the demo."""
    stop.set()
    deadline = time.monotonic() + STOP_GRACE_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _stop_broker(broker: LocalBroker, say: Narrator, interruption: Interruption) -> None:
    """A broker this run started is stopped on every exit, a second Ctrl-C included."""
    with interruption.shielded():
        if broker.stop() is not None:
            say.say("\nBroker stopped (use --keep-broker to leave it running).")


def _starting(scenario: Scenario, index: int) -> Scenario:
    from dataclasses import replace

    return replace(scenario, start_event=index)


def _background(name: str, target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _read(
    settings: Settings, topic: str, expected: int, timeout_s: float, check: Callable[[], None]
) -> list[Any]:
    consumer = Consumer(consumer_config(settings, f"demo-reader-{time.time_ns()}"))
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and len(out) < expected:
            check()
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
                f"on model v{alert['model_version']}"
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
    outcomes = Counter(d["outcome"] for d in r.decisions)
    say.say(
        "    retrain decisions: "
        + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "none")
    )
    if r.alert_to_new_version_s is not None:
        say.say(
            f"    from the first alert to the first prediction by the retrained version: "
            f"{r.alert_to_new_version_s:.1f} s"
        )
    reports = [a["report_path"] for a in r.alerts if a.get("report_path")]
    for path in reports:
        say.say(f"    drift report: {path}")
    if r.log_path:
        say.say(f"    logs of every process: {r.log_path}")
    say.say(f"    done in {r.seconds} s")
