"""Put dead letters that pass today back on the input topic, exactly once.

A bounded job on the batch processor (`core.kafka.processor`), so the delivery guarantee
is the one every consumer has, not a second transaction loop:

  1. take, per DLQ partition, the replay group's committed offset and the end offset
     now (read_committed: the last stable offset); partitions with nothing between are
     left out, and nothing at all means no transaction is opened;
  2. consume the DLQ in the replay group (`dlq.group_id`) and judge each dead letter
     again under the current validation settings (`core.dead_letters.revalidation`);
  3. produce the ones that pass to the input topic and commit the DLQ offsets in the same
     transaction, batch after batch, until every partition is committed up to its end
     from step 1. Dead letters written meanwhile wait for the next run.

A dead letter is therefore replayed at most once per group, whatever instant the job
dies at: an uncommitted batch's records are never seen by read_committed readers, and
its offsets were not committed, so the rerun examines it again. The transactional id
is the group's, so a rerun fences a killed run's open transaction at once instead of
waiting out the transaction timeout (a second run started meanwhile fences the first).
The killed run's group membership lasts until its session times out, so the session
timeout is short (`SESSION_TIMEOUT_MS`). Not static membership: a static member that
rejoins with another subscription (say `topics.dlq` renamed) is handed its old
assignment by the coordinator and would wait on partitions it never reads.

`--dry-run` reads the same range without the group (never committing for it) and
produces nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.dead_letters.letter import DeadLetter
from core.dead_letters.revalidation import Selection, Verdict, replay_record, revalidate
from core.dead_letters.tally import ReplayTally
from core.kafka.admin import check_reachable
from core.kafka.exceptions import KafkaLayerError
from core.kafka.processor import BatchHandler, BatchProcessor, ProcessorOptions
from core.kafka.readback import PartitionRange, pending_ranges, read_back
from core.records import OutRecord, Record
from core.settings import Settings

SESSION_TIMEOUT_MS = 10_000
"""How long a killed run stays in the group, delaying the rerun's first batch."""

Progress = Callable[[int, int], None]
"""`progress(dead_letters_examined, offsets_to_read)`: the second counts offsets, so
transaction markers make it a little more than the dead letters there are."""


class ReplayFailed(KafkaLayerError):
    """A batch could not be judged; nothing of it was produced or committed."""

    hint = "run `streamscore dlq replay` again: committed batches stay replayed, the rest is redone"


@dataclass
class ReplayReport:
    group_id: str
    dry_run: bool
    tally: ReplayTally = field(default_factory=ReplayTally)
    pending_offsets: int = 0
    """Offsets between the group's position and the end when the run started. Transaction
    markers take offsets too, so a drained DLQ still shows one per partition."""
    seconds: float = 0.0
    interrupted: bool = False
    """Stopped by a signal before the end: what is counted is committed, the rest waits."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "pending_offsets": self.pending_offsets,
            "seconds": round(self.seconds, 3),
            **self.tally.as_dict(),
        }


class ReplayHandler(BatchHandler):
    """Judges a batch of dead letters; its tally counts committed batches only."""

    def __init__(
        self,
        settings: Settings,
        selection: Selection,
        tally: ReplayTally,
        progress: Progress | None,
        expected: int,
    ) -> None:
        self._selection = selection
        self._max_bytes = settings.validation.max_event_bytes
        self._input = settings.topics.events
        self._tally = tally
        self._batch = ReplayTally()
        self._progress = progress
        self._expected = expected

    def ready(self) -> bool:
        return True

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        verdicts = judge(batch, self._selection, self._max_bytes)
        self._batch = ReplayTally.of(verdicts)
        return [replay_record(v.letter, self._input) for v in verdicts if v.outcome == "replayed"]

    def batch_committed(self) -> None:
        self._tally.merge(self._batch)
        self._batch = ReplayTally()
        if self._progress is not None:
            self._progress(self._tally.examined, self._expected)

    def batch_aborted(self) -> None:
        self._batch = ReplayTally()


def judge(batch: Sequence[Record], selection: Selection, max_bytes: int) -> list[Verdict]:
    return [revalidate(DeadLetter.of(r), selection, max_bytes) for r in batch]


def _fail(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
    """Dead letters are not dead-lettered again: a batch that cannot be judged stops the
    job with nothing of it committed."""
    raise ReplayFailed(f"judging {len(batch)} dead letters failed: {type(exc).__name__}: {exc}")


def replay_dead_letters(
    settings: Settings,
    selection: Selection,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ReplayReport:
    """Replay what passes now, from the group's position to the end as it is now."""
    started = time.monotonic()
    config, topic = settings.dlq, settings.topics.dlq
    check_reachable(settings)
    ranges = pending_ranges(settings, topic, config.group_id)
    report = ReplayReport(config.group_id, dry_run, pending_offsets=_size(ranges))
    if dry_run:
        back = read_back(settings, topic, group=config.group_id, progress=progress)
        report.tally = ReplayTally.of(
            judge(back.records, selection, settings.validation.max_event_bytes)
        )
    elif report.pending_offsets:
        stop = stop or threading.Event()
        handler = ReplayHandler(settings, selection, report.tally, progress, report.pending_offsets)
        options = ProcessorOptions(
            name="dlq-replay",
            group_id=config.group_id,
            topics=[topic],
            batch_size=config.batch_size,
            batch_timeout_s=config.batch_timeout_ms / 1000,
            transactional_id=config.group_id,
            transaction_timeout_ms=config.transaction_timeout_ms,
            ends={(r.topic, r.partition): r.end for r in ranges if r.size > 0},
            consumer_overrides={"session.timeout.ms": SESSION_TIMEOUT_MS},
        )
        BatchProcessor(settings, options, handler, _fail).run(stop)
        report.interrupted = stop.is_set()
    report.seconds = time.monotonic() - started
    return report


def _size(ranges: Sequence[PartitionRange]) -> int:
    return sum(r.size for r in ranges)
