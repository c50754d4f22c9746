"""The retrainer: alerts in, `retrain-decisions` out, challengers trained, gated and
promoted on the way (`core.retraining.job`).

Exactly once per alert. An alert's offset is committed only in the transaction that
carries its decision record. A training runs on a worker thread; meanwhile its batch is
deferred (`core.kafka.processor.Deferred`: rewound, nothing committed), the input is
paused and the loop keeps polling, so the group never waits past `max.poll.interval.ms`.
When the training is done the alert is delivered again and its decision goes out with
its offset. What is already decided is read back from `retrain-decisions` at start and
from the registry (a challenger's lineage names its alerts) before acting, so a
redelivered alert never trains twice, and a SIGKILL during a training ends, after the
restart, in one decision. One retrainer runs per group, like the drift watcher.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import ValidationError

from core.errors import StreamscoreError
from core.kafka.instance import transactional_id
from core.kafka.labelled import reader
from core.kafka.model_events import announcer
from core.kafka.processor import BatchHandler, Deferred
from core.kafka.producer import CheckedProducer
from core.kafka.readback import read_back
from core.kafka.service import ConsumerSpec, run_consumer
from core.records import OutRecord, Record, coordinates
from core.registry import ModelRegistry
from core.retraining.alerts import AlertRef
from core.retraining.decision import DecisionOutcome, RetrainDecision
from core.retraining.job import NOT_ENOUGH_DATA, RetrainCancelled, RetrainJob, RetrainReport
from core.retraining.policy import Outcome, RetrainPolicy
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.settings import Settings

SERVICE = "retrainer"
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]
Coordinates = tuple[str, int, int]


class RetrainMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.trainings = Counter(
            "streamscore_retrain_trainings", "Retrainings started", registry=registry
        )
        self.decisions = Counter(
            "streamscore_retrain_decisions", "Decisions published", ["outcome"], registry=registry
        )
        self.promotions = Counter(
            "streamscore_retrain_promotions", "Challengers promoted", registry=registry
        )
        self.rejections = Counter(
            "streamscore_retrain_rejections",
            "Retrainings rejected (gate, not_enough_data, error)",
            ["reason"],
            registry=registry,
        )
        self.skips = Counter(
            "streamscore_retrain_skipped", "Alerts skipped", ["reason"], registry=registry
        )
        self.duplicates = Counter(
            "streamscore_retrain_duplicate_alerts", "Alerts already decided", registry=registry
        )
        self.invalid = Counter(
            "streamscore_retrain_invalid_alerts", "Unreadable alert records", registry=registry
        )
        self.seconds = Histogram(
            "streamscore_retrain_training_seconds",
            "From reading the lookback back to the promotion or rejection",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=registry,
        )
        self.last_decision = Gauge(
            "streamscore_retrain_last_decision_timestamp_seconds",
            "When the last decision was published (Unix time)",
            registry=registry,
        )
        # Exported at 0 before the first one, so a rule's increase() counts it.
        for outcome in get_args(DecisionOutcome):
            self.decisions.labels(outcome)


@dataclass(frozen=True)
class Restored:
    """What `retrain-decisions` already says, read back before the first alert."""

    alert_ids: set[str] = field(default_factory=set)
    rejections: dict[str, datetime] = field(default_factory=dict)
    """Per model, the time of the newest rejected decision (the rejection cooldown)."""
    decisions: int = 0


def restore(settings: Settings) -> Restored:
    alert_ids: set[str] = set()
    rejections: dict[str, datetime] = {}
    back = read_back(settings, settings.topics.retrain_decisions)
    for record in back.records:
        try:
            decision = RetrainDecision.model_validate_json(record.value() or b"")
        except ValidationError:
            continue
        alert_ids.update(decision.alert_ids)
        if decision.outcome == "rejected":
            last = rejections.get(decision.model_name)
            rejections[decision.model_name] = max(last or decision.created_at, decision.created_at)
    return Restored(alert_ids, rejections, len(back.records))


class RetrainHandler(BatchHandler):
    def __init__(
        self,
        settings: Settings,
        job: RetrainJob,
        metrics: RetrainMetrics,
        restored: Restored = Restored(),
        stopping: threading.Event | None = None,
    ) -> None:
        self._topic = settings.topics.retrain_decisions
        self._name = settings.registry.model_name
        self._job = job
        self._metrics = metrics
        self._log = structlog.get_logger(SERVICE)
        self._policy = RetrainPolicy(settings.retrain)
        for model, at in restored.rejections.items():
            self._policy.record_rejection(model, at)
        self._answered: dict[str, Coordinates | None] = dict.fromkeys(restored.alert_ids)
        """Alert id -> the record whose transaction carries its decision (None: published
        before this process started)."""
        self._carried: dict[Coordinates, RetrainDecision] = {}
        self._finished: dict[str, RetrainDecision] = {}
        self._running: Future[RetrainReport] | None = None
        self._running_ids: list[str] = []
        self._stopping = stopping or threading.Event()
        """Set on close; the job checks it before it records anything."""
        self.last_decision: RetrainDecision | None = None

    # ---- hooks ----------------------------------------------------------------------------

    def ready(self) -> bool:
        return self._running is None or self._running.done()

    def idle(self) -> None:
        self._collect()

    def status(self) -> dict[str, Any]:
        last = self.last_decision
        return {
            # A training is this consumer's normal work, not a fault: healthy while it runs.
            "status": "healthy",
            "model_name": self._name,
            "training": not self.ready(),
            "training_alert_ids": self._running_ids if not self.ready() else [],
            "last_decision": None
            if last is None
            else {
                "outcome": last.outcome,
                "reason": last.reason,
                "alert_ids": last.alert_ids,
                "challenger_version": last.challenger_version,
                "at": last.created_at.isoformat(),
            },
        }

    def close(self) -> None:
        """Let a registry write in progress finish; a training still fitting is dropped
        (its alert is uncommitted, so the next retrainer answers it)."""
        self._stopping.set()
        if self._running is not None:
            wait_for([self._running], timeout=10)

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        self._collect()
        out: list[OutRecord] = []
        pending: list[str] = []
        for record in batch:
            where = coordinates(record)
            carried = self._carried.get(where)
            if carried is not None:  # the transaction that carried it was redone
                out.append(self._record(carried))
                continue
            try:
                alert = AlertRef.model_validate_json(record.value() or b"")
            except ValidationError as exc:
                self._metrics.invalid.inc()
                self._log.error("alert_unreadable", source=where, error=str(exc).splitlines()[0])
                continue
            if alert.alert_id in self._answered or alert.alert_id in pending:
                self._metrics.duplicates.inc()
                self._log.info("alert_already_decided", alert_id=alert.alert_id)
                continue
            decision = self._decide(alert, pending)
            if decision is None:
                continue
            self._carried[where] = decision
            for alert_id in decision.alert_ids:
                self._answered[alert_id] = where
            self._published(decision)
            out.append(self._record(decision))
        if pending:
            self._start(pending)
            raise Deferred(f"training for alerts {pending}")
        return out

    # ---- deciding -------------------------------------------------------------------------

    def _decide(self, alert: AlertRef, pending: list[str]) -> RetrainDecision | None:
        """The alert's decision, or None when it joins the training to start (`pending`)."""
        finished = self._finished.get(alert.alert_id)
        if finished is not None:
            return finished
        if alert.model_name != self._name:
            return RetrainDecision.build(
                [alert.alert_id],
                alert.model_name,
                None,
                "skipped",
                f"this retrainer retrains {self._name!r}, not {alert.model_name!r}",
            )
        if self._job.registered_for([alert.alert_id]) is not None:
            pending.append(alert.alert_id)  # an earlier run got as far as the registry
            return None
        registry = self._job.registry
        production = registry.production_version(self._name)
        self._sync_promotions(registry)
        verdict = self._policy.decide(
            alert,
            production_version=production,
            now=datetime.now(UTC),
            in_flight=bool(pending),
        )
        self._log.info(
            "alert_decided",
            alert_id=alert.alert_id,
            outcome=verdict.outcome.value,
            reason=verdict.reason,
        )
        if verdict.outcome in (Outcome.TRAIN, Outcome.FOLD):
            pending.append(alert.alert_id)
            return None
        self._metrics.skips.labels(verdict.outcome.value).inc()
        return RetrainDecision.skipped(verdict)

    def _sync_promotions(self, registry: ModelRegistry) -> None:
        """Production changes by anyone (people included) start the cooldown."""
        if self._name not in registry.models():
            return
        for t in reversed(registry.history(self._name)):
            if t.event == "rolled_back" or (t.event == "promoted" and t.stage == "production"):
                self._policy.record_promotion(self._name, t.to_version, t.at)
                return

    # ---- the training off the poll thread ----------------------------------------------------

    def _start(self, alert_ids: list[str]) -> None:
        future: Future[RetrainReport] = Future()
        self._running, self._running_ids = future, sorted(alert_ids)
        self._metrics.trainings.inc()
        self._log.info("retrain_started", alert_ids=self._running_ids)

        def work() -> None:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(self._job.run(alert_ids))
            except BaseException as exc:
                future.set_exception(exc)

        # A daemon thread: a stop never waits for a fit to end (see `close`).
        threading.Thread(target=work, name="retrain-worker", daemon=True).start()

    def _collect(self) -> None:
        future = self._running
        if future is None or not future.done():
            return
        self._running = None
        ids, self._running_ids = self._running_ids, []
        now = datetime.now(UTC)
        try:
            report = future.result()
        except RetrainCancelled:
            return
        except Exception as exc:
            reason = exc.one_line() if isinstance(exc, StreamscoreError) else repr(exc)
            self._log.error("retrain_failed", alert_ids=ids, error=reason, exc_info=exc)
            production = self._job.registry.production_version(self._name)
            decision = RetrainDecision.build(
                ids, self._name, production, "rejected", f"retraining failed: {reason}"
            )
            self._metrics.rejections.labels("error").inc()
            self._policy.record_rejection(self._name, now)
        else:
            decision = report.decision
            self._metrics.seconds.observe(report.training_seconds)
            if decision.outcome == "promoted" and decision.challenger_version is not None:
                self._metrics.promotions.inc()
                self._policy.record_promotion(self._name, decision.challenger_version, now)
            elif decision.outcome == "rejected":
                label = "not_enough_data" if decision.reason.startswith(NOT_ENOUGH_DATA) else "gate"
                self._metrics.rejections.labels(label).inc()
                self._policy.record_rejection(self._name, now)
            self._log.info("retrain_finished", alert_ids=ids, timings=report.timings)
        for alert_id in ids:
            self._finished[alert_id] = decision

    # ---- output -----------------------------------------------------------------------------

    def _published(self, decision: RetrainDecision) -> None:
        self.last_decision = decision
        self._metrics.decisions.labels(decision.outcome).inc()
        self._metrics.last_decision.set(decision.created_at.timestamp())
        self._log.info(
            "retrain_decision",
            decision_id=decision.decision_id,
            alert_ids=decision.alert_ids,
            outcome=decision.outcome,
            reason=decision.reason,
            champion_version=decision.champion_version,
            challenger_version=decision.challenger_version,
        )

    def _record(self, decision: RetrainDecision) -> OutRecord:
        return decision_record(self._topic, decision)


def decision_record(topic: str, decision: RetrainDecision) -> OutRecord:
    return OutRecord(
        topic, decision.model_dump_json().encode(), decision.model_name.encode(), _HEADERS
    )


class Undecidable:
    """The error policy: a batch the handler failed on (say, an unreadable registry) still
    gets one decision per alert, so none is left without an answer; the reason says what
    broke, and the alert can be raised again or retrained by hand (`retrain --once`)."""

    def __init__(self, topic: str) -> None:
        self._topic = topic

    def __call__(self, exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
        structlog.get_logger(SERVICE).error(
            "retrain_batch_failed", error_type=type(exc).__name__, error=str(exc)
        )
        reason = exc.one_line() if isinstance(exc, StreamscoreError) else repr(exc)
        out = []
        for record in batch:
            try:
                alert = AlertRef.model_validate_json(record.value() or b"")
            except ValidationError:
                continue
            decision = RetrainDecision.build(
                [alert.alert_id], alert.model_name, None, "skipped", f"could not decide: {reason}"
            )
            out.append(decision_record(self._topic, decision))
        return out


def build_job(settings: Settings, cancelled: threading.Event | None = None) -> RetrainJob:
    stop = cancelled or threading.Event()
    return RetrainJob(
        registry=ModelRegistry.from_config(settings.registry),
        name=settings.registry.model_name,
        config=settings.retrain,
        max_event_bytes=settings.validation.max_event_bytes,
        read=reader(settings),
        announce=announcer(settings),
        cancelled=stop.is_set,
    )


def retrain_once(settings: Settings) -> RetrainReport:
    """The manual trigger: retrain now from Kafka data, publish the decision, return it."""
    report = build_job(settings).run([], trigger="manual")
    producer = CheckedProducer.from_settings(settings)
    producer.produce(decision_record(settings.topics.retrain_decisions, report.decision))
    producer.flush(settings.kafka.timeout_s)
    return report


def run_retrainer(settings: Settings, stop: threading.Event) -> None:
    """Answer alerts until `stop` is set; /health and /metrics served meanwhile."""
    config = settings.retrain
    topics = settings.topics.retrain_inputs(config.alert_topics)
    spec = ConsumerSpec.from_config(
        SERVICE,
        config,
        topics,
        Undecidable(settings.topics.retrain_decisions),
        transactional_id=transactional_id(f"{config.group_id}-retrainer", config.instance_id),
        started_fields={"alert_topics": topics},
    )
    stopping = threading.Event()

    def handler(registry: CollectorRegistry) -> RetrainHandler:
        restored = restore(settings)
        structlog.get_logger(SERVICE).info(
            "decisions_restored", decisions=restored.decisions, alerts=len(restored.alert_ids)
        )
        job = build_job(settings, stopping)
        return RetrainHandler(settings, job, RetrainMetrics(registry), restored, stopping)

    try:
        run_consumer(settings, stop, spec, handler)
    finally:
        stopping.set()
