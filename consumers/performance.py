"""The performance monitor: `churn-predictions` joined with `customer-outcomes`, judged
per model version over event-time windows; records on `model-performance`, alerts on
`performance-alerts`.

A thin wiring of core pieces on the consumer scaffold (`core.kafka.service`): the join,
windows, judgement and alert policy are `core.performance` (one monitor per input
partition: `core.performance.partitions`); state is checkpointed per input partition
through `core.kafka.changelog` in each batch's transaction, beside the batch's offsets
and outputs, so a SIGKILL and restart neither loses nor double-counts a labelled
prediction. Scales by partitions: each partition's closed windows go as shares to
`monitor_partials`, and one judge per group (`consumers.performance_judge`, a companion
thread of every monitor) merges, judges and publishes them (docs/scaling.md).

Event time is each record's Kafka timestamp, not `scored_at` (the scorer's wall clock)
or `observed_at` (the outcome producer's event clock): both topics' timestamps are set
by their producers on one clock, which is what the join's label delay is measured on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from operator import is_
from typing import Any, get_args

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from core.errors import StreamscoreError
from core.heap import fewer_full_collections, freeze_heap
from core.kafka.admin import require_copartitioned
from core.kafka.changelog import CheckpointStore
from core.kafka.instance import transactional_id
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.producer import CheckedProducer
from core.kafka.service import Companion, ConsumerSpec, run_consumer
from core.packing import pack
from core.performance.config import PerformanceConfig
from core.performance.decoding import DecodedBatch, Side, decode_batch
from core.performance.partitions import PartitionedMonitor
from core.performance.policy import Severity
from core.records import OutRecord, Record
from core.registry import ModelRegistry
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.settings import Settings
from core.window_shares import IdleTracker, WindowShare, progress, share

SERVICE = "monitor"
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]
_FIGURES = ("roc_auc", "accuracy", "log_loss", "brier", "positive_rate", "predicted_rate")
CHECKPOINT_WARN_BYTES = 750_000
"""Warn past this: Kafka's default `message.max.bytes` is 1,000,012 bytes."""


FETCH_TUNING: dict[str, Any] = {"max.partition.fetch.bytes": 262144}
"""Smaller fetches per partition than librdkafka's 1 MB: a backlog then arrives as
finer chunks of every topic-partition, so one batch carries both topics of a partition
instead of minutes of one, and little is left unread (`MonitorHandler.unread`)."""

HOLD_MIN_SLACK_S = 5.0
"""The least skew between the two topics of a partition that holds one of them. Live,
the topics differ by the scorer's lag (predictions carry their event's timestamp,
outcomes their own), a few milliseconds to seconds; holding on that would pause and
resume a topic every batch (each pause drops what librdkafka had fetched for it)."""


def hold_slack_s(label_delay_s: float) -> float:
    """How far one topic may run ahead of its twin before it is held: half the label
    delay (the join buffer is sized for rate x delay), never under `HOLD_MIN_SLACK_S`."""
    return max(label_delay_s / 2, HOLD_MIN_SLACK_S)


class MonitorBatchFailed(StreamscoreError):
    """A batch could not be processed; nothing of it was committed."""

    hint = "the monitor stops so its state never disagrees with its offsets; restart it"


class MonitorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["model_name", "model_version", "metric"]
        self.window = Gauge(
            "streamscore_monitor_window_metric",
            "The latest closed window's figure per model version",
            labels,
            registry=registry,
        )
        self.cumulative = Gauge(
            "streamscore_monitor_cumulative_metric",
            "Figure over every labelled prediction since the version appeared (live)",
            labels,
            registry=registry,
        )
        self.joined = Gauge(
            "streamscore_monitor_join",
            "Join totals: paired, unlabelled, orphaned, duplicate and late halves, capped",
            ["outcome"],
            registry=registry,
        )
        self.buffer = Gauge(
            "streamscore_monitor_join_buffer", "Join entries held now", registry=registry
        )
        self.open_windows = Gauge(
            "streamscore_monitor_open_windows", "Windows waiting to close", registry=registry
        )
        self.windows = Counter(
            "streamscore_monitor_windows_closed", "Windows closed", ["verdict"], registry=registry
        )
        self.alerts = Counter(
            "streamscore_monitor_alerts", "Alerts emitted", ["severity"], registry=registry
        )
        self.invalid = Counter(
            "streamscore_monitor_invalid_records",
            "Records that are not a valid prediction or outcome (skipped)",
            ["topic"],
            registry=registry,
        )
        self.checkpoint = Gauge(
            "streamscore_monitor_checkpoint_bytes",
            "Size of the largest partition checkpoint of the last batch",
            registry=registry,
        )
        # Exported at 0 before the first one, so a rule's increase() counts it.
        for severity in get_args(Severity):
            self.alerts.labels(severity)


class Baselines:
    """Each version's holdout figure of the judged metric, read from the registry once,
    when the version is first seen."""

    def __init__(self, settings: Settings) -> None:
        self._registry = ModelRegistry.from_config(settings.registry)
        self._metric = settings.monitor.metric
        self._known: dict[tuple[str, int], float | None] = {}
        self._log = structlog.get_logger(SERVICE)

    def lookup(self, name: str, version: int) -> tuple[bool, float | None]:
        """(first time seen, holdout figure or None)."""
        key = (name, version)
        if key in self._known:
            return False, self._known[key]
        try:
            value = self._registry.get(name, version).metrics.get(self._metric)
        except StreamscoreError as exc:
            value = None
            self._log.warning(
                "baseline_unavailable", model_name=name, model_version=version, error=str(exc)
            )
        self._known[key] = value
        self._log.info(
            "baseline_loaded",
            model_name=name,
            model_version=version,
            metric=self._metric,
            baseline=value,
        )
        return True, value


class MonitorHandler(BatchHandler):
    def __init__(
        self,
        settings: Settings,
        metrics: MonitorMetrics,
        store: CheckpointStore,
        baselines: Baselines,
        announce: Callable[[list[OutRecord]], None] | None = None,
    ) -> None:
        self._topics = settings.topics
        self._model_name = settings.registry.model_name
        self._config: PerformanceConfig = settings.monitor
        self._metrics = metrics
        self._store = store
        self._baselines = baselines
        self._log = structlog.get_logger(SERVICE)
        self.monitor = PartitionedMonitor(self._config)
        self._committed: dict[int, bytes | None] = {}
        """Per partition, the state of the last committed batch: what an aborted batch
        returns to."""
        self._pending: dict[int, bytes] = {}
        self._marks: dict[int, float] = {}
        """Per partition, the watermark last told to the judge in a committed batch."""
        self._sent: dict[int, float] = {}
        self._idle = IdleTracker(settings.monitor.idle_partition_s)
        self._announce = announce
        self._assignment: Assignment | None = None
        self._waiting: dict[int, list[Side]] = {}
        self._slack = hold_slack_s(self._config.label_delay_s)
        self._decoded: tuple[Sequence[Record], DecodedBatch] | None = None
        """What `unread` kept of the batch it was last handed, decoded (`_decode`)."""

    def ready(self) -> bool:
        return True

    def on_assigned(self, assignment: Assignment) -> None:
        """Each input partition resumes from its checkpoint; a topic-partition with records
        still to come holds event time back until it delivers."""
        partitions = sorted({p for _, p in assignment.partitions})
        side: dict[str, Side] = {
            self._topics.predictions: "predictions",
            self._topics.outcomes: "outcomes",
        }
        waiting: dict[int, list[Side]] = {}
        for topic, p in assignment.backlogged_topics():
            if topic in side:
                waiting.setdefault(p, []).append(side[topic])
        self._assignment = assignment
        restored = self._store.restore(partitions)
        self._idle.assigned(partitions)
        for p in partitions:
            if p not in self.monitor.partitions:
                self.monitor.assign(p, restored.get(p), waiting.get(p, ()))
                self._committed[p] = restored.get(p)
                self._waiting[p] = list(waiting.get(p, ()))
        self._log.info(
            "monitor_state_restored",
            partitions=partitions,
            restored=sorted(p for p in restored if p is not None),
            waiting={str(p): s for p, s in waiting.items()},
            buffered=self.monitor.buffered(),
        )

    def on_revoked(self, partitions: list[tuple[str, int]]) -> None:
        gone = sorted({p for _, p in partitions})
        self._idle.revoked(gone)
        for p in gone:
            self.monitor.revoke(p)
            self._committed.pop(p, None)
            self._marks.pop(p, None)

    def batch_committed(self) -> None:
        self._committed.update(self._pending)
        self._pending = {}
        self._marks.update(self._sent)
        self._sent = {}

    def idle(self) -> None:
        """Quiet partitions read to their end, told to the judge with the windows they
        hold open (outside any transaction: no batch carries them)."""
        if self._announce is None or self._assignment is None:
            return
        name = self._model_name
        try:
            quiet = self._idle.announce(
                name,
                self._topics.monitor_partials,
                self._assignment.caught_up,
                lambda p: self.monitor.holds(p, name),
                self._announce,
            )
        except StreamscoreError as exc:
            self._log.warning("idle_announcement_failed", error=exc.one_line())
            return
        if quiet:
            self._log.info("partitions_idle", partitions=quiet)

    def _shares(self) -> list[WindowShare]:
        """Windows each partition closed at its own watermark, and the watermarks that
        moved: what the judge merges."""
        closed, marks = self.monitor.close_shares()
        delay = self._config.label_delay_s
        out = [
            share(
                w.model_name,
                w.model_version,
                p,
                start=w.start,
                end=w.end,
                closes_at=w.end + delay,
                events=w.state.predictions,
                state=pack(w.state.to_dict(), 1),
            )
            for p, w in closed
        ]
        for p, mark in sorted(marks.items()):
            if self._marks.get(p) != mark:
                told = progress(self._model_name, None, p, mark)
                if told is not None:
                    out.append(told)
                    self._sent[p] = mark
        return out

    def batch_aborted(self) -> None:
        """The join buffers and windows already absorbed the aborted batch, which is
        consumed again: every partition goes back to its last committed state, so no
        labelled prediction is counted twice."""
        self._pending = {}
        self._marks = {}
        for p in self.monitor.partitions:
            self.monitor.revoke(p)
            self.monitor.assign(p, self._committed.get(p), self._waiting.get(p, ()))

    def held(self) -> set[tuple[str, int]]:
        """Hold a topic-partition that runs more than the slack (`hold_slack_s`) ahead of
        its twin once its join buffer is nearly full (`PartitionedMonitor.ahead`): after
        a backlog the consumer fetches one topic far ahead of the other, and its
        unmatched halves would overflow the buffer (counted `capped`). Live, both
        topics' timestamps are the producers' clock, so nothing is held. A label feed
        that stops for longer holds the predictions too: lag grows (visible on /metrics)
        instead of every prediction counting unlabelled."""
        topic = {"predictions": self._topics.predictions, "outcomes": self._topics.outcomes}
        return {(topic[side], p) for p, side in self.monitor.ahead(self._slack)}

    def unread(self, batch: Sequence[Record]) -> dict[tuple[str, int], int]:
        """`held()`'s rule inside the batch: one fetched batch can carry minutes of one
        topic-partition of a backlog (producers write it in large chunks), more than the
        join buffer holds. Of such a topic's records past its twin plus the slack, those
        beyond the buffer's room are left unread, and `held()` pauses the topic until the
        twin catches up (`PartitionedMonitor.limits`)."""
        decoded = decode_batch(batch, self._topics.predictions, self._topics.outcomes)
        self._decoded = (batch, decoded)
        limits = self.monitor.limits(self._slack, decoded.read())
        if not limits:
            return {}
        side: dict[str | None, Side] = {
            self._topics.predictions: "predictions",
            self._topics.outcomes: "outcomes",
        }
        topic = {"predictions": self._topics.predictions, "outcomes": self._topics.outcomes}
        wanted = {(topic[s], p): (after * 1000, room) for (p, s), (after, room) in limits.items()}
        out: dict[tuple[str, int], int] = {}
        beyond: dict[tuple[str, int], int] = {}
        cuts: dict[tuple[int, Side], int] = {}
        kept: list[Record] = []
        for position, record in enumerate(batch):
            key = (record.topic() or "", record.partition() or 0)
            limit = wanted.get(key)
            if limit is not None:
                if key in out:
                    continue
                stamp = record.timestamp()[1]
                if stamp > limit[0]:
                    beyond[key] = n = beyond.get(key, 0) + 1
                    if n > limit[1]:
                        out[key] = record.offset() or 0
                        cuts[(key[1], side[key[0]])] = position
                        self.monitor.leave_unread(key[1], side[key[0]], stamp / 1000)
                        continue
            kept.append(record)
        if cuts:
            self._decoded = (kept, decoded.without(cuts))
        return out

    def status(self) -> dict[str, Any]:
        counts = self.monitor.counts()
        return {
            "monitor_partitions": self.monitor.partitions,
            "join_buffer": self.monitor.buffered(),
            "open_windows": self.monitor.open_windows(),
            "labelled": counts.paired,
            "unlabelled": counts.unlabelled,
            "orphaned": counts.orphaned,
            "watermark": self.monitor.watermark(),
        }

    def _decode(self, batch: Sequence[Record]) -> DecodedBatch:
        """The batch decoded: by `unread` already when this is what it kept of the
        batch it was handed, record for record (one decoding pass, not two)."""
        stashed, self._decoded = self._decoded, None
        if stashed is not None:
            kept, decoded = stashed
            if kept is batch or (len(kept) == len(batch) and all(map(is_, kept, batch))):
                return decoded
        return decode_batch(batch, self._topics.predictions, self._topics.outcomes)

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        monitor = self.monitor
        decoded = self._decode(batch)
        for name, version in sorted(decoded.models):
            self._see_version(name, version)
        for partition, items in decoded.partitions.items():
            monitor.add_batch(partition, items)
        for topic, count in decoded.invalid.items():
            self._metrics.invalid.labels(topic).inc(count)
        self._idle.delivered(decoded.delivered())
        out = [s.to_record(self._topics.monitor_partials) for s in self._shares()]
        largest = 0
        for p in monitor.take_dirty():
            state = monitor.checkpoint(p)
            largest = max(largest, len(state))
            self._pending[p] = state
            out.append(self._store.record(state, partition=p))
        self._observe(largest)
        return out

    def _see_version(self, name: str, version: int) -> None:
        first, value = self._baselines.lookup(name, version)
        if first:
            self.monitor.set_baseline(name, version, value)

    def _observe(self, checkpoint_bytes: int) -> None:
        m, monitor = self._metrics, self.monitor
        counts = monitor.counts()
        for outcome, value in (
            ("paired", counts.paired),
            ("unlabelled", counts.unlabelled),
            ("orphaned", counts.orphaned),
            ("duplicate", counts.duplicate_predictions + counts.duplicate_outcomes),
            ("late", counts.late_predictions + counts.late_outcomes),
            ("capped", counts.capped),
        ):
            m.joined.labels(outcome).set(value)
        m.buffer.set(monitor.buffered())
        m.open_windows.set(monitor.open_windows())
        for (name, version), state in monitor.cumulative().items():
            for figure, live in state.figures().items():
                if figure in _FIGURES and live is not None:
                    m.cumulative.labels(name, str(version), figure).set(live)
        if checkpoint_bytes:
            m.checkpoint.set(checkpoint_bytes)
            if checkpoint_bytes > CHECKPOINT_WARN_BYTES:
                self._log.warning(
                    "checkpoint_large",
                    bytes=checkpoint_bytes,
                    hint="lower monitor.max_buffer or monitor.label_delay_s, or add partitions",
                )


def _stop_on_failure(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """A batch half applied to the monitor's state must not be committed: stop, so the
    restart resumes from the last checkpoint and its offsets."""
    structlog.get_logger(SERVICE).error(
        "monitor_batch_failed", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    raise MonitorBatchFailed(f"batch of {len(batch)} records failed: {exc!r}") from exc


def spec(settings: Settings) -> ConsumerSpec:
    config = settings.monitor
    return ConsumerSpec.from_config(
        SERVICE,
        config,
        [settings.topics.predictions, settings.topics.outcomes],
        _stop_on_failure,
        transactional_id=transactional_id(f"{config.group_id}-monitor", config.instance_id),
        started_fields={
            "metric": config.metric,
            "window_seconds": config.window_seconds,
            "label_delay_s": config.label_delay_s,
        },
        consumer_overrides=FETCH_TUNING,
    )


def run_monitor(settings: Settings, stop: threading.Event) -> None:
    """Monitor live model quality until `stop` is set; /health and /metrics meanwhile."""
    require_copartitioned(settings, [settings.topics.predictions, settings.topics.outcomes])

    # Imported here: the judge publishes with this module's metrics.
    from consumers.performance_judge import MonitorJudge, build_judge, judge_spec

    metrics: dict[int, MonitorMetrics] = {}

    def shared(registry: CollectorRegistry) -> MonitorMetrics:
        if id(registry) not in metrics:
            metrics[id(registry)] = MonitorMetrics(registry)
        return metrics[id(registry)]

    announcer = CheckedProducer.from_settings(settings)

    def announce(records: list[OutRecord]) -> None:
        announcer.produce_all(records)
        announcer.flush(settings.kafka.timeout_s)

    def handler(registry: CollectorRegistry) -> MonitorHandler:
        store = CheckpointStore(settings, settings.topics.monitor_state, settings.monitor.group_id)
        built = MonitorHandler(settings, shared(registry), store, Baselines(settings), announce)
        fewer_full_collections()  # each batch's records would set off full ones (core.heap)
        freeze_heap()
        return built

    def judge(registry: CollectorRegistry) -> MonitorJudge:
        return build_judge(settings, shared(registry), Baselines(settings))

    run_consumer(
        settings, stop, spec(settings), handler, companions=[Companion(judge_spec(settings), judge)]
    )
