"""The drift watcher: windows of `customer-events` compared with the production model's
reference profile, alerts on `drift-alerts`. Scales by partitions (docs/scaling.md).

Each watcher keeps its input partitions' windows apart (`core.drift.partitioned`) and
checkpoints each under `<group>:<partition>` on the compacted `drift_state` topic,
partitioned like the input, so the state moves with the partition in a rebalance. A
window a partition has finished is published as that partition's share on
`drift_partials`; one judge per group (`consumers.drift_judge`, a companion thread of
every watcher, active in whichever owns the partials topic) merges every partition's
share, judges the window once and publishes alerts. Every batch's transaction carries
its offsets, its shares and its checkpoints, so a restart, a SIGKILL or a rebalance
loses and repeats nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from consumers.drift_judge import DriftJudge, build_judge, judge_spec
from consumers.drift_metrics import SERVICE, DriftMetrics
from core.drift.judge import Reference
from core.drift.partitioned import PartitionedWindows
from core.drift.windows import WindowManager
from core.errors import StreamscoreError
from core.event_columns import decode_columns
from core.follower import ProductionFollower
from core.kafka.changelog import CheckpointStore
from core.kafka.instance import transactional_id
from core.kafka.model_events import follow_production
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.producer import CheckedProducer
from core.kafka.service import Companion, ConsumerSpec, run_consumer
from core.records import OutRecord, Record, coordinates
from core.registry import NoProductionModel
from core.settings import Settings
from core.window_shares import IdleTracker, WindowShare


class DriftHandler(BatchHandler):
    """One watcher: the windows of the partitions it owns, and their shares."""

    def __init__(
        self,
        settings: Settings,
        follower: ProductionFollower[Reference],
        metrics: DriftMetrics,
        store: CheckpointStore,
        announce: Callable[[list[OutRecord]], None] | None = None,
    ) -> None:
        self._settings = settings
        self._config = settings.drift
        self._follower = follower
        self._name = settings.registry.model_name
        self._metrics = metrics
        self._log = structlog.get_logger(SERVICE)
        self._store = store
        self._announce = announce
        self._partials = settings.topics.drift_partials
        self.reference: Reference | None = None
        self.windows: PartitionedWindows | None = None
        self._idle = IdleTracker(self._config.idle_partition_s)
        self._assigned: list[int] = []
        self._assignment: Assignment | None = None
        self._committed: dict[int, bytes | None] = {}
        """Per owned partition, the checkpoint of the last committed batch (None: none
        yet): what an aborted batch returns to."""
        self._uncommitted: dict[int, bytes] = {}
        self._owed: list[WindowShare] = []
        """Shares of windows a partition left (restored on another version), for the next
        batch's transaction."""
        self._dirty: set[int] = set()

    def ready(self) -> bool:
        return self.reference is not None or self._follower.current is not None

    def close(self) -> None:
        self._follower.close()

    def on_assigned(self, assignment: Assignment) -> None:
        """Each partition resumes from its own checkpoint. Its windows close at its own
        watermark, which stands until its first event: nothing of it is ever late."""
        parts = sorted({p for _, p in assignment.partitions})
        self._assignment = assignment
        restored = self._store.restore(parts)
        self._idle.assigned(parts)
        for p in parts:
            self._committed[p] = restored.get(p)
        self._assigned = sorted({*self._assigned, *parts})
        if self.windows is None and self._follower.current is not None:
            self._switch(self._follower.current)
        elif self.windows is not None:
            for p in parts:
                self._place(p, self._committed[p])
        self._log.info(
            "window_state_restored",
            partitions=parts,
            restored=sorted(p for p in parts if restored.get(p) is not None),
            **(self.windows.status() if self.windows else {}),
        )

    def on_revoked(self, partitions: list[tuple[str, int]]) -> None:
        gone = {p for _, p in partitions}
        self._assigned = [p for p in self._assigned if p not in gone]
        self._idle.revoked(gone)
        self._owed = [s for s in self._owed if s.partition not in gone]
        for p in gone:
            self._committed.pop(p, None)
            self._dirty.discard(p)
            if self.windows is not None:
                self.windows.revoke(p)

    def status(self) -> dict[str, Any]:
        ref, windows = self.reference, self.windows
        return {
            "model_name": self._name,
            "profile_version": ref.version if ref else None,
            "watched_partitions": self._assigned,
            **(windows.status() if windows else {"open_windows": 0, "late_events": 0}),
        }

    def idle(self) -> None:
        self._follower.refresh()
        if self.reference is None and self._follower.current is not None:
            self._switch(self._follower.current)
        self._announce_idle()

    def _announce_idle(self) -> None:
        if self._announce is None or self._assignment is None:
            return
        assignment, windows = self._assignment, self.windows

        def holds(p: int) -> list[tuple[int, float]]:
            manager = windows.managers.get(p) if windows else None
            if manager is None or windows is None:
                return []
            return [(windows.version, float(k)) for k in manager.open]

        try:
            quiet = self._idle.announce(
                self._name, self._partials, assignment.caught_up, holds, self._announce
            )
        except StreamscoreError as exc:
            self._log.warning("idle_announcement_failed", error=exc.one_line())
            return
        if quiet:
            self._log.info("partitions_idle", partitions=quiet)

    def _pending(self) -> Reference | None:
        """A newer production profile than the one windows are judged against."""
        latest = self._follower.current
        if latest is None or (
            self.reference is not None and latest.version == self.reference.version
        ):
            return None
        return latest

    def batch_committed(self) -> None:
        self._committed.update(self._uncommitted)
        self._uncommitted = {}

    def batch_aborted(self) -> None:
        """The windows already absorbed the aborted batch, which is consumed again: every
        partition back to its last committed checkpoint, so it is counted once."""
        self._uncommitted = {}
        self._owed = []
        self._dirty = set()
        if self.windows is None:
            return
        for p in self._assigned:
            self.windows.revoke(p)
            self._place(p, self._committed.get(p))

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        self._uncommitted = {}
        shares: list[WindowShare] = []
        pending = self._pending()
        if pending is not None:
            if self.windows is not None:
                for p in self._assigned:
                    shares += self.windows.leave(p)
            self._switch(pending, restore=False)
            self._dirty.update(self._assigned)
        windows = self.windows
        if windows is None:
            raise NoProductionModel(self._name)
        shares += self._owed
        self._dirty.update(s.partition for s in self._owed)
        self._owed = []
        decoded = decode_columns(batch, self._settings.validation.max_event_bytes)
        self._metrics.invalid.inc(decoded.invalid)
        self._idle.delivered({r.partition() or 0 for r in batch})
        if decoded.valid:
            topic, _, _ = coordinates(batch[0])
            closed, touched = windows.add(decoded, topic)
            shares += closed
            self._dirty.update(touched)
            self._metrics.late.set(windows.status()["late_events"])
        out = [s.to_record(self._partials) for s in shares]
        for p in sorted(self._dirty & set(self._assigned)):
            state = windows.checkpoint(p)
            self._uncommitted[p] = state
            out.append(self._store.record(state, partition=p))
        self._dirty = set()
        return out

    def _switch(self, pending: Reference, *, restore: bool = True) -> None:
        """Judge against `pending` from now on; `restore`: place the owned partitions'
        committed checkpoints (a checkpoint on another version is left, its windows owed)."""
        previous = self.reference.version if self.reference else None
        self.reference = pending
        self.windows = PartitionedWindows(
            pending.profile, pending.version, self._config, self._name
        )
        for p in self._assigned:
            if restore:
                self._place(p, self._committed.get(p))
            else:
                self.windows.assign(p)
        self._metrics.profile_version.set(pending.version)
        self._log.info("reference_profile_loaded", model_version=pending.version, previous=previous)

    def _place(self, partition: int, checkpoint: bytes | None) -> None:
        windows = self.windows
        if windows is None:
            return
        if checkpoint is None:
            windows.assign(partition)
            return
        version, raw = PartitionedWindows.read_checkpoint(checkpoint)
        if version == windows.version:
            windows.assign(partition, WindowManager.from_bytes(raw, windows.profile))
            return
        old = self._follower.load(version)
        before = PartitionedWindows(old.profile, old.version, self._config, self._name)
        before.assign(partition, WindowManager.from_bytes(raw, old.profile))
        self._owed += before.leave(partition)
        windows.assign(partition)
        self._log.info(
            "partition_left_version",
            partition=partition,
            model_version=version,
            now=windows.version,
        )


def _skip_batch(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """The watcher only observes: a batch it cannot judge is logged and passed over (the
    scorer dead-letters bad events; nothing here may block the scoring path)."""
    structlog.get_logger(SERVICE).error(
        "drift_batch_skipped", error_type=type(exc).__name__, error=str(exc), records=len(batch)
    )
    return []


def run_drift(settings: Settings, stop: threading.Event) -> None:
    """Watch for drift until `stop` is set; /health and /metrics served meanwhile. The
    judge runs beside, on a thread, in its own group: one of the group's watchers judges."""
    config = settings.drift
    spec = ConsumerSpec.from_config(
        SERVICE,
        config,
        [settings.topics.events],
        _skip_batch,
        transactional_id=transactional_id(f"{config.group_id}-watcher", config.instance_id),
    )
    metrics: dict[int, DriftMetrics] = {}

    def shared(registry: CollectorRegistry) -> DriftMetrics:
        if id(registry) not in metrics:
            metrics[id(registry)] = DriftMetrics(registry)
        return metrics[id(registry)]

    announcer = CheckedProducer.from_settings(settings)

    def announce(records: list[OutRecord]) -> None:
        announcer.produce_all(records)
        announcer.flush(settings.kafka.timeout_s)

    def handler(registry: CollectorRegistry) -> DriftHandler:
        store = CheckpointStore(settings, settings.topics.drift_state, config.group_id)
        follower = follow_production(settings, Reference.load)
        return DriftHandler(settings, follower, shared(registry), store, announce)

    def judge(registry: CollectorRegistry) -> DriftJudge:
        return build_judge(settings, shared(registry))

    run_consumer(settings, stop, spec, handler, companions=[Companion(judge_spec(settings), judge)])
