"""One monitor per input partition, their windows judged together.

Both input topics are keyed by customer_id and partitioned alike, so a prediction and
its outcome share a partition number and the join is partition-local: each input
partition gets its own `PerformanceMonitor` (join buffer and open windows), checkpointed
under its own key, which moves with the partition in a rebalance.

Event time is each record's Kafka timestamp (both topics' timestamps are set by their
producers, on one clock). A partition's watermark is the slower of its two topics: the
lower of the largest timestamps seen on predictions[p] and on outcomes[p], so a backlog
read faster on one topic never makes the other's records late. A topic-partition that
has delivered nothing yet holds time back if it was backlogged when assigned (records
are coming). An empty outcomes topic does not, or a partition without labels would
stop time for ever. Empty predictions do once outcomes have arrived: labels come for
predictions, so the scorer is only behind (started late, or catching up), and outcomes
alone moving time would orphan every label and make every later prediction late (at a
label delay shorter than the scorer's lag no window ever closed). Before its first
prediction a partition has no window to close, so holding costs nothing but buffered
labels. One that delivered and then went quiet does hold it: a stalled label feed
keeps windows open rather than counting every prediction unlabelled.

Windows are judged merged. Each partition's join evicts at its own watermark, but
windows close at the slowest partition's watermark, so when one closes every
partition's share of it is final; the shares are merged (exactly: `MetricState.merge`)
and judged once, against one alert policy. So a window gives one record per model
version, with all its labels, and the false-alarm rate is one monitor's whatever the
partition count.

Across the instances of one group (docs/scaling.md), `close_shares` closes each
partition's windows at that partition's own watermark instead, and hands the shares to
the group's one judge (`consumers.performance_judge`), which merges every partition's
share once all partitions are past the window: the same figures, whoever owns which
partition.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import reduce

from core.errors import StreamscoreError
from core.performance.config import PerformanceConfig
from core.performance.decoding import PartitionInput, Side
from core.performance.join import JoinBuffer, JoinCounts, Joined, JoinedBatch
from core.performance.metrics import MetricState
from core.performance.monitor import PerformanceMonitor, WindowResult, judge
from core.performance.policy import PerformanceAlertPolicy
from core.performance.windows import ClosedWindow, ModelKey, PerformanceWindows
from core.schemas import Outcome, Prediction

SIDES: tuple[Side, Side] = ("predictions", "outcomes")

HOLD_AT_BUFFER_SHARE = 0.75
"""A topic running ahead of its twin is read on until its partition's join buffer holds
this share of `max_buffer`, then held: the rest of the cap is for the twin's halves and
the pairs' tombstones, so a backlog never reaches the cap (no `capped` entries)."""

_MAGIC = b"SSPM1"
_LENGTHS = struct.Struct(">II")


class PartitionStateError(StreamscoreError):
    """A partition's monitor state is missing or unreadable."""

    hint = "the checkpoint is corrupt or from another format: reset the monitor's state"


@dataclass
class PartitionClock:
    """Largest record timestamp seen per topic of one input partition."""

    predictions: float | None = None
    outcomes: float | None = None
    waiting: frozenset[Side] = field(default_factory=frozenset)
    """Topics that were backlogged at assignment: until they deliver, time waits."""
    unread: dict[Side, float] = field(default_factory=dict)
    """Per topic, the timestamp of a record left unread for now (`PartitionedMonitor.
    limits`): not event time seen, only what holds that topic until its twin catches up.
    Not checkpointed: the next batch finds it again."""

    def forget_read(self) -> None:
        """Drop the unread marks that records seen since have passed."""
        for side, at in list(self.unread.items()):
            seen = getattr(self, side)
            if seen is not None and seen >= at:
                del self.unread[side]

    def front(self, side: Side) -> float | None:
        """How far the topic has been read or is known to go on: what holding compares."""
        seen: float | None = getattr(self, side)
        ahead = self.unread.get(side)
        if ahead is None:
            return seen
        return ahead if seen is None or ahead > seen else seen

    def see(self, side: Side, timestamp: float) -> None:
        current = getattr(self, side)
        if current is None or timestamp > current:
            setattr(self, side, timestamp)

    def expects(self, side: Side) -> bool:
        """Whether a topic that has delivered nothing has records to come: it was
        backlogged at assignment, or it is the predictions of outcomes already seen."""
        return side in self.waiting or (side == "predictions" and self.outcomes is not None)

    @property
    def watermark(self) -> float | None:
        """The slower topic's time; None when neither topic bounds it."""
        bounds = []
        for side in SIDES:
            seen = getattr(self, side)
            if seen is not None:
                bounds.append(seen)
            elif self.expects(side):
                bounds.append(-math.inf)
        return min(bounds) if bounds else None


def _ahead(
    predictions: float | None, outcomes: float | None, clock: PartitionClock, slack_s: float
) -> Side | None:
    """The topic more than `slack_s` ahead of its twin, or that delivered while its twin,
    which has records to come, has not (predictions always come to outcomes that did,
    `PartitionClock.expects`); None when neither is."""
    if predictions is not None and outcomes is not None:
        if predictions - outcomes > slack_s:
            return "predictions"
        if outcomes - predictions > slack_s:
            return "outcomes"
        return None
    if predictions is not None and "outcomes" in clock.waiting:
        return "predictions"
    if outcomes is not None:
        return "outcomes"
    return None


@dataclass
class _Partition:
    monitor: PerformanceMonitor
    clock: PartitionClock


class PartitionedMonitor:
    """Per-partition monitors, merged windows, one alert policy.

    >>> from datetime import UTC, datetime
    >>> from core.schemas import Outcome, Prediction
    >>> monitor = PartitionedMonitor(PerformanceConfig(window_seconds=60, label_delay_s=10))
    >>> for p in (0, 1):
    ...     monitor.assign(p)
    >>> t = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    >>> def prediction(i: int) -> Prediction:
    ...     return Prediction(event_id=f"e{i}", customer_id=f"c{i}", prediction=1,
    ...         probability=0.8, risk_level="high", model_name="churn", model_version=1,
    ...         scored_at=datetime.fromtimestamp(t, UTC))
    >>> def outcome(i: int) -> Outcome:
    ...     return Outcome(event_id=f"e{i}", customer_id=f"c{i}", churned=1,
    ...         observed_at=datetime.fromtimestamp(t, UTC))
    >>> for i in range(4):
    ...     _ = monitor.add_prediction(i % 2, prediction(i), t + i)
    ...     _ = monitor.add_outcome(i % 2, outcome(i), t + i + 1)
    >>> monitor.advance()
    []
    >>> _ = monitor.add_prediction(0, prediction(10), t + 75)
    >>> _ = monitor.add_outcome(0, outcome(10), t + 76)
    >>> monitor.advance()  # partition 1 is at t + 3: the window waits for it
    []
    >>> _ = monitor.add_prediction(1, prediction(11), t + 75)
    >>> _ = monitor.add_outcome(1, outcome(11), t + 76)
    >>> [(r.record.labelled_events, r.record.predictions) for r in monitor.advance()]
    [(4, 4)]
    >>> restored = PartitionedMonitor(monitor.config)
    >>> restored.assign(0, monitor.checkpoint(0))
    >>> restored.counts().paired, monitor.counts().paired
    (3, 6)
    """

    def __init__(
        self, config: PerformanceConfig, baselines: Mapping[ModelKey, float] | None = None
    ) -> None:
        self.config = config
        self.baselines: dict[ModelKey, float] = dict(baselines or {})
        """Holdout figure of the judged metric per version (registry metadata)."""
        self.policy = PerformanceAlertPolicy(config)
        self._partitions: dict[int, _Partition] = {}
        self._dirty: set[int] = set()

    # ------------------------------------------------------------------ partitions

    @property
    def partitions(self) -> list[int]:
        return sorted(self._partitions)

    def assign(
        self, partition: int, checkpoint: bytes | None = None, waiting: Iterable[Side] = ()
    ) -> None:
        """Own `partition` from its last checkpoint (or fresh); `waiting`: its topics that
        have records to come, which hold time back until they deliver."""
        if checkpoint is None:
            monitor, clock = self._fresh(), PartitionClock()
        else:
            monitor, clock = self._decode(checkpoint)
        clock.waiting = frozenset(waiting)
        self._partitions[partition] = _Partition(monitor, clock)

    def revoke(self, partition: int) -> None:
        """Forget a partition (its state is in its last committed checkpoint)."""
        self._partitions.pop(partition, None)
        self._dirty.discard(partition)

    def set_baseline(self, model_name: str, model_version: int, value: float | None) -> None:
        """The version's holdout figure of the judged metric; None: judge by the floor."""
        if value is None:
            self.baselines.pop((model_name, model_version), None)
        else:
            self.baselines[(model_name, model_version)] = float(value)

    def _owned(self, partition: int) -> _Partition:
        owned = self._partitions.get(partition)
        if owned is None:
            raise PartitionStateError(f"partition {partition} is not assigned to this monitor")
        return owned

    # ------------------------------------------------------------------ input

    def add_prediction(self, partition: int, prediction: Prediction, timestamp: float) -> Joined:
        owned = self._owned(partition)
        owned.clock.see("predictions", timestamp)
        self._dirty.add(partition)
        return owned.monitor.add_prediction(prediction, event_time=timestamp)

    def add_outcome(self, partition: int, outcome: Outcome, timestamp: float) -> Joined:
        owned = self._owned(partition)
        owned.clock.see("outcomes", timestamp)
        self._dirty.add(partition)
        return owned.monitor.add_outcome(outcome, event_time=timestamp)

    def add_batch(self, partition: int, batch: PartitionInput) -> JoinedBatch:
        """A batch's valid predictions and outcomes of one partition, in arrival order:
        the same as one `add_prediction` or `add_outcome` each, in one pass."""
        owned = self._owned(partition)
        if batch.predictions_seen is not None:
            owned.clock.see("predictions", batch.predictions_seen)
        if batch.outcomes_seen is not None:
            owned.clock.see("outcomes", batch.outcomes_seen)
        owned.clock.forget_read()
        self._dirty.add(partition)
        return owned.monitor.add_batch(batch.items)

    # ------------------------------------------------------------------ time

    def ahead(self, slack_s: float) -> list[tuple[int, Side]]:
        """(partition, topic) pairs to hold: a topic whose records run more than `slack_s`
        ahead of the other topic of the same partition (or that delivered while the
        other, which has records to come, has not), once reading on would overflow the
        join buffer: it left records unread (`limits`), or the buffer is past
        `HOLD_AT_BUFFER_SHARE` of its cap. Reading on would only fill the buffer with
        halves whose others are still unread (a backlog is fetched topic by topic), so
        the reader holds them until the other catches up."""
        out: list[tuple[int, Side]] = []
        for partition, owned in sorted(self._partitions.items()):
            clock = owned.clock
            side = _ahead(clock.front("predictions"), clock.front("outcomes"), clock, slack_s)
            if side is not None and (side in clock.unread or self._room(owned) <= 0):
                out.append((partition, side))
        return out

    def limits(
        self, slack_s: float, batch: Mapping[tuple[int, Side], float]
    ) -> dict[tuple[int, Side], tuple[float, int]]:
        """`ahead`'s rule inside one batch, whose largest record timestamp per (partition,
        topic) is `batch`: for the topic that would end the batch more than `slack_s`
        ahead of its twin, (time, room): of its records later than `time` (the twin's
        time plus the slack; -inf while the twin has records to come and none was seen),
        only the first `room` fit in the join buffer. The ones past them are to be left
        unread, and told with `leave_unread`. A topic's time is the latest it delivered
        or the first record it left unread, whichever is later: everything before that
        was read."""
        out: dict[tuple[int, Side], tuple[float, int]] = {}
        for partition in sorted({p for p, _ in batch}):
            owned = self._partitions.get(partition)
            if owned is None:
                continue
            clock = owned.clock
            ends: dict[Side, float | None] = {}
            for side in SIDES:
                known, read = clock.front(side), batch.get((partition, side))
                ends[side] = read if known is None or (read is not None and read > known) else known
            ahead = _ahead(ends["predictions"], ends["outcomes"], clock, slack_s)
            if ahead is not None:
                twin = ends["outcomes" if ahead == "predictions" else "predictions"]
                after = -math.inf if twin is None else twin + slack_s
                out[(partition, ahead)] = (after, max(self._room(owned), 0))
        return out

    def leave_unread(self, partition: int, side: Side, timestamp: float) -> None:
        """A record of `side` at `timestamp` was left unread: hold that topic until its
        twin is within the slack of it (`ahead`)."""
        self._owned(partition).clock.unread[side] = timestamp

    def _room(self, owned: _Partition) -> int:
        """Join entries the partition may still take while one topic runs ahead."""
        return int(self.config.max_buffer * HOLD_AT_BUFFER_SHARE) - len(owned.monitor.join)

    def watermark(self) -> float | None:
        """Where windows close: the slowest partition's watermark (None: none bounds it)."""
        marks = [w for o in self._partitions.values() if (w := o.clock.watermark) is not None]
        return min(marks) if marks else None

    def advance(self) -> list[WindowResult]:
        """Evict each join at its partition's watermark, then close, merge and judge the
        windows the slowest partition's watermark has passed."""
        for owned in self._partitions.values():
            own = owned.clock.watermark
            if own is not None:
                owned.monitor.settle().join.advance(own)
        close_at = self.watermark()
        if close_at is None:
            return []
        closed: list[tuple[int, ClosedWindow]] = []
        for partition, owned in self._partitions.items():
            windows = owned.monitor.settle().windows
            before = windows.watermark
            shares = windows.close(close_at)
            if shares or windows.watermark != before:
                self._dirty.add(partition)
            closed += [(partition, w) for w in shares]
        return self._judge_merged(closed)

    def close_shares(self) -> tuple[list[tuple[int, ClosedWindow]], dict[int, float]]:
        """Each partition's join evicted and windows closed at its own watermark: the
        (partition, share) pairs closed, and each bounded partition's watermark. A share
        depends only on its partition's records, never on which others this process owns."""
        shares: list[tuple[int, ClosedWindow]] = []
        marks: dict[int, float] = {}
        for partition, owned in sorted(self._partitions.items()):
            own = owned.clock.watermark
            if own is None or not math.isfinite(own):
                continue
            owned.monitor.settle().join.advance(own)
            windows = owned.monitor.settle().windows
            before = windows.watermark
            closed = windows.close(own)
            if closed or windows.watermark != before:
                self._dirty.add(partition)
            shares += [(partition, w) for w in closed]
            marks[partition] = own
        return shares, marks

    def flush(self) -> list[WindowResult]:
        """Judge every open window now (end of a replay); coverage may be incomplete."""
        closed = []
        for partition, owned in self._partitions.items():
            closed += [(partition, w) for w in owned.monitor.settle().windows.flush()]
            self._dirty.add(partition)
        return self._judge_merged(closed)

    def _judge_merged(self, closed: list[tuple[int, ClosedWindow]]) -> list[WindowResult]:
        groups: dict[tuple[float, str, int], list[ClosedWindow]] = {}
        for _, window in closed:
            key = (window.start, window.model_name, window.model_version)
            groups.setdefault(key, []).append(window)
        results = []
        for (start, name, version), shares in sorted(groups.items()):
            state = reduce(MetricState.merge, (w.state for w in shares))
            merged = ClosedWindow(name, version, start, shares[0].end, state)
            results.append(
                judge(merged, self.config, self.policy, self.baselines.get((name, version)))
            )
        return results

    # ------------------------------------------------------------------ figures

    def cumulative(self) -> dict[ModelKey, MetricState]:
        """Every labelled prediction since each version appeared, merged over partitions."""
        merged: dict[ModelKey, MetricState] = {}
        for owned in self._partitions.values():
            for model, state in owned.monitor.settle().windows.cumulative.items():
                merged[model] = merged[model].merge(state) if model in merged else state
        return merged

    def counts(self) -> JoinCounts:
        """Join totals summed over the owned partitions."""
        total = JoinCounts()
        for owned in self._partitions.values():
            for f in fields(JoinCounts):
                setattr(
                    total,
                    f.name,
                    getattr(total, f.name) + getattr(owned.monitor.join.counts, f.name),
                )
        return total

    def buffered(self) -> int:
        """Join entries held (waiting halves and tombstones) over the owned partitions."""
        return sum(len(o.monitor.join) for o in self._partitions.values())

    def pending_predictions(self) -> int:
        """Predictions still waiting for their outcome."""
        return sum(o.monitor.join.pending_predictions for o in self._partitions.values())

    def late(self) -> int:
        """Predictions and pairs that reached a window after it had closed."""
        return sum(o.monitor.windows.late for o in self._partitions.values())

    def open_windows(self) -> int:
        return sum(len(o.monitor.windows.open) for o in self._partitions.values())

    def holds(self, partition: int, model_name: str) -> list[tuple[int, float]]:
        """The windows (model version, start) the partition has open: what it still owes
        the judge, announced with its idleness."""
        owned = self._partitions.get(partition)
        if owned is None:
            return []
        open_ = owned.monitor.settle().windows.open
        return sorted((v, s) for n, v, s in open_ if n == model_name)

    # ------------------------------------------------------------------ checkpoints

    def take_dirty(self) -> list[int]:
        """Partitions whose state changed since the last call: the ones to checkpoint."""
        dirty, self._dirty = sorted(self._dirty & set(self._partitions)), set()
        return dirty

    def checkpoint(self, partition: int) -> bytes:
        """One partition's join buffer, windows and clock, framed without base64."""
        owned = self._owned(partition)
        monitor = owned.monitor.settle()
        join, windows = monitor.join.to_bytes(), monitor.windows.to_bytes()
        clock = json.dumps(
            {"predictions": owned.clock.predictions, "outcomes": owned.clock.outcomes}
        ).encode()
        return _MAGIC + _LENGTHS.pack(len(join), len(windows)) + join + windows + clock

    def policy_checkpoint(self) -> bytes:
        return json.dumps(self.policy.to_dict(), separators=(",", ":")).encode()

    def restore_policy(self, data: bytes) -> None:
        try:
            self.policy = PerformanceAlertPolicy.from_dict(json.loads(data), self.config)
        except (ValueError, KeyError, TypeError) as exc:
            raise PartitionStateError(f"alert policy checkpoint is unreadable: {exc!r}") from None

    def _fresh(self) -> PerformanceMonitor:
        return PerformanceMonitor(self.config)

    def _decode(self, data: bytes) -> tuple[PerformanceMonitor, PartitionClock]:
        head = len(_MAGIC) + _LENGTHS.size
        if not data.startswith(_MAGIC) or len(data) < head:
            raise PartitionStateError("partition checkpoint has an unknown format")
        n_join, n_windows = _LENGTHS.unpack_from(data, len(_MAGIC))
        try:
            join = data[head : head + n_join]
            windows = data[head + n_join : head + n_join + n_windows]
            clock = json.loads(data[head + n_join + n_windows :])
            monitor = self._fresh()
            monitor.join = JoinBuffer.from_bytes(join)
            monitor.windows = PerformanceWindows.from_bytes(windows)
            restored = PartitionClock(clock["predictions"], clock["outcomes"])
        except StreamscoreError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise PartitionStateError(f"partition checkpoint is unreadable: {exc!r}") from None
        return monitor, restored
