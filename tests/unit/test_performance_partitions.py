"""Per-partition monitors judged together: the same figures as one monitor over all the
data, across checkpoints, with time held by the slowest partition and topic."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.performance.config import PerformanceConfig
from core.performance.join import JoinCounts
from core.performance.monitor import WindowResult
from core.performance.partitions import PartitionedMonitor, PartitionStateError
from core.schemas import Outcome, Prediction, RiskLevel

EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
CONFIG = PerformanceConfig(window_seconds=10, label_delay_s=5, min_labels=50)
HOLDOUT = {("churn", 1): 0.83}

Arrival = tuple[float, str, int, float, int]
"""(record timestamp, side, event index, probability, label)."""


def prediction(i: int, probability: float) -> Prediction:
    return Prediction(
        event_id=f"e{i}",
        customer_id=f"c{i % 97}",
        prediction=int(probability >= 0.5),
        probability=probability,
        risk_level=RiskLevel.of(probability),
        model_name="churn",
        model_version=1,
        scored_at=datetime.fromtimestamp(EPOCH, UTC),
    )


def outcome(i: int, label: int) -> Outcome:
    return Outcome(
        event_id=f"e{i}",
        customer_id=f"c{i % 97}",
        churned=label,
        observed_at=datetime.fromtimestamp(EPOCH, UTC),
    )


def arrivals(n: int = 4_000) -> list[Arrival]:
    """40 predictions/s; 90 % get an outcome 0-3 s later (some before their prediction's
    record); from event 2,000 on the labels are the opposite of the model's call."""
    rng = random.Random(11)
    out: list[Arrival] = []
    for i in range(n):
        t = EPOCH + i / 40
        p = rng.random()
        label = int(rng.random() < p) if i < 2_000 else int(p < 0.5)
        out.append((t, "p", i, p, label))
        if rng.random() < 0.9:
            out.append((t + rng.uniform(-0.2, 3), "o", i, p, label))
    return sorted(out)


def run(
    partitions: int, restart_every: int | None = None
) -> tuple[PartitionedMonitor, list[WindowResult]]:
    def fresh() -> PartitionedMonitor:
        return PartitionedMonitor(CONFIG, HOLDOUT)

    monitor = fresh()
    for p in range(partitions):
        monitor.assign(p)
    results: list[WindowResult] = []
    for k, (t, side, i, p, label) in enumerate(arrivals()):
        partition = (i % 97) % partitions  # keyed by customer, like both topics
        if side == "p":
            monitor.add_prediction(partition, prediction(i, p), t)
        else:
            monitor.add_outcome(partition, outcome(i, label), t)
        if k % 100 == 99:
            results += monitor.advance()
            if restart_every and k % restart_every == restart_every - 1:
                saved = {q: monitor.checkpoint(q) for q in monitor.partitions}
                policy = monitor.policy_checkpoint()
                monitor = fresh()
                monitor.restore_policy(policy)
                for q, data in saved.items():
                    monitor.assign(q, data)
    return monitor, results + monitor.flush()


def settled(counts: JoinCounts, monitor: PartitionedMonitor) -> JoinCounts:
    """The counts with predictions still waiting at the end taken as unlabelled: which of
    them are still waiting depends on each partition's own event time."""
    return replace(counts, unlabelled=counts.unlabelled + monitor.pending_predictions())


def test_windows_split_over_partitions_give_the_figures_of_one_partition_holding_all() -> None:
    one, whole = run(partitions=1)
    three, split = run(partitions=3)
    assert [r.record for r in split] == [r.record for r in whole]
    assert [r.alert is not None for r in split] == [r.alert is not None for r in whole]
    assert settled(three.counts(), three) == settled(one.counts(), one)
    assert three.cumulative()[("churn", 1)].to_dict() == one.cumulative()[("churn", 1)].to_dict()


def test_every_prediction_is_paired_or_counted_unlabelled_exactly_once() -> None:
    monitor, results = run(partitions=3)
    counts = monitor.counts()
    outcomes = sum(1 for a in arrivals() if a[1] == "o")
    assert counts.predictions == 4_000
    assert counts.paired == outcomes
    assert counts.unlabelled + monitor.pending_predictions() == 4_000 - outcomes
    assert counts.unlabelled > 0
    assert counts.orphaned == 0
    assert sum(r.record.labelled_events for r in results) == outcomes
    assert sum(r.record.predictions for r in results) == 4_000


def test_the_reversed_relation_alerts_once_and_the_stable_half_does_not() -> None:
    _, results = run(partitions=3)
    alerts = [r for r in results if r.alert is not None]
    assert len(alerts) == 1
    assert alerts[0].record.window_start.timestamp() >= EPOCH + 2_000 / 40
    stable = [r for r in results if r.record.window_end.timestamp() <= EPOCH + 2_000 / 40]
    assert stable
    assert not any(r.record.failing for r in stable)


def test_restoring_every_partition_from_its_checkpoint_changes_no_figure() -> None:
    _, straight = run(partitions=3)
    _, restarted = run(partitions=3, restart_every=700)
    assert [r.record for r in restarted] == [r.record for r in straight]
    assert [r.alert.alert_id for r in restarted if r.alert] == [
        r.alert.alert_id for r in straight if r.alert
    ]


def test_a_backlogged_topic_holds_time_until_it_delivers_and_an_empty_one_does_not() -> None:
    monitor = PartitionedMonitor(CONFIG)
    monitor.assign(0, waiting=["outcomes"])
    monitor.assign(1)  # nothing to come on either topic: it does not hold time back
    monitor.add_prediction(0, prediction(0, 0.9), EPOCH + 100)
    assert monitor.watermark() == float("-inf")
    monitor.add_outcome(0, outcome(0, 1), EPOCH + 90)
    assert monitor.watermark() == EPOCH + 90
    monitor.add_prediction(1, prediction(1, 0.9), EPOCH + 50)
    assert monitor.watermark() == EPOCH + 50  # partition 1 has predictions, no outcomes yet


def test_labels_read_before_any_prediction_wait_for_them_even_at_label_delay_0() -> None:
    """Outcomes of a partition whose predictions have not begun (the scorer started late,
    or is catching up) do not move its event time: they would all be orphaned at once,
    and every prediction after them counted late, so no window ever closed."""
    monitor = PartitionedMonitor(CONFIG.model_copy(update={"label_delay_s": 0.0}))
    monitor.assign(0)
    monitor.assign(1)  # nothing on either topic: it holds nothing
    for i in range(40):
        monitor.add_outcome(0, outcome(i, i % 2), EPOCH + i / 2)
    assert monitor.watermark() == float("-inf")
    assert monitor.advance() == []
    for i in range(40):
        monitor.add_prediction(0, prediction(i, 0.7), EPOCH + i / 2)
    results = monitor.advance()
    assert [(r.record.predictions, r.record.labelled_events) for r in results] == [(20, 20)]
    counts = monitor.counts()
    assert (counts.paired, counts.orphaned, counts.unlabelled) == (40, 0, 0)
    assert counts.late_predictions == counts.late_outcomes == 0


def test_a_partition_not_assigned_is_refused() -> None:
    monitor = PartitionedMonitor(CONFIG)
    with pytest.raises(PartitionStateError, match="not assigned"):
        monitor.add_prediction(4, prediction(0, 0.5), EPOCH)


def test_a_corrupt_checkpoint_is_a_named_error() -> None:
    with pytest.raises(PartitionStateError):
        PartitionedMonitor(CONFIG).assign(0, b"not a checkpoint")


def test_a_topic_running_ahead_is_held_once_the_join_buffer_nears_its_cap() -> None:
    """A backlog is fetched topic by topic; unheld, the unmatched halves of the topic in
    front would overflow the join buffer. While the buffer has room, reading on is cheaper
    than a pause (which drops what the client had fetched)."""
    monitor = PartitionedMonitor(CONFIG.model_copy(update={"max_buffer": 8}))
    monitor.assign(0, waiting=["predictions", "outcomes"])
    monitor.assign(1)
    monitor.add_prediction(0, prediction(0, 0.9), EPOCH + 1)
    assert monitor.ahead(2.5) == []  # outcomes are coming, but the buffer has room
    for i in range(1, 6):
        monitor.add_prediction(0, prediction(i, 0.9), EPOCH + 1 + i)
    assert monitor.ahead(2.5) == [(0, "predictions")]  # 6 of 8: held till outcomes come
    monitor.add_outcome(0, outcome(0, 1), EPOCH + 5.5)
    assert monitor.ahead(2.5) == []  # within the slack
    monitor.add_prediction(0, prediction(9, 0.9), EPOCH + 20)
    assert monitor.ahead(2.5) == [(0, "predictions")]
    monitor.add_outcome(1, outcome(20, 1), EPOCH + 50)
    assert monitor.ahead(2.5) == [(0, "predictions")]  # 1's labels wait: its buffer has room


def test_labels_in_front_of_predictions_not_begun_are_held_once_the_buffer_nears_its_cap() -> None:
    """They wait for their predictions (event time does not move without them), so read on
    they would fill the buffer until the cap evicted them as orphans."""
    monitor = PartitionedMonitor(CONFIG.model_copy(update={"max_buffer": 8}))
    monitor.assign(0)
    for i in range(5):
        monitor.add_outcome(0, outcome(i, 1), EPOCH + i)
    assert monitor.ahead(2.5) == []
    assert monitor.limits(2.5, {(0, "outcomes"): EPOCH + 9}) == {
        (0, "outcomes"): (float("-inf"), 1)
    }
    monitor.add_outcome(0, outcome(5, 1), EPOCH + 5)
    assert monitor.ahead(2.5) == [(0, "outcomes")]  # 6 of 8
    monitor.add_prediction(0, prediction(0, 0.9), EPOCH + 4)
    assert monitor.ahead(2.5) == []  # within the slack
    assert monitor.counts().capped == 0


def test_inside_a_batch_the_topic_in_front_is_read_only_as_far_as_the_buffer_has_room() -> None:
    """One fetched batch can carry minutes of one topic-partition: `limits` says where to
    stop reading it, and what was left unread holds the topic until its twin is near."""
    monitor = PartitionedMonitor(CONFIG.model_copy(update={"max_buffer": 8}))
    monitor.assign(0, waiting=["predictions", "outcomes"])
    monitor.add_prediction(0, prediction(0, 0.9), EPOCH + 1)
    monitor.add_outcome(0, outcome(0, 1), EPOCH + 2)
    batch = {(0, "predictions"): EPOCH + 100.0, (0, "outcomes"): EPOCH + 3.0}
    after, room = monitor.limits(2.5, batch)[(0, "predictions")]
    assert (after, room) == (EPOCH + 5.5, 6 - 1)  # 1 tombstone in the buffer
    assert monitor.limits(2.5, {(0, "outcomes"): EPOCH + 3.0}) == {}
    monitor.leave_unread(0, "predictions", EPOCH + 40)
    assert monitor.ahead(2.5) == [(0, "predictions")]
    monitor.add_outcome(0, outcome(1, 1), EPOCH + 38)
    assert monitor.ahead(2.5) == []
    assert monitor.limits(2.5, {(0, "outcomes"): EPOCH + 39.0}) == {}
