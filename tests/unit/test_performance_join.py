"""The join buffer: predictions meet their outcomes once, or are counted, never lost."""

from __future__ import annotations

import random
from dataclasses import asdict

import pytest

from core.performance.join import JoinBuffer, JoinStateError, LabelledPair


def buffer(delay: float = 60.0, cap: int = 10_000) -> JoinBuffer:
    return JoinBuffer(label_delay_s=delay, max_entries=cap)


def predict(b: JoinBuffer, event_id: str, t: float, p: float = 0.7, version: int = 1) -> str:
    return b.add_prediction(
        event_id,
        model_name="churn",
        model_version=version,
        probability=p,
        prediction=int(p >= 0.5),
        event_time=t,
    ).status


def test_a_prediction_then_its_outcome_emit_one_pair() -> None:
    b = buffer()
    assert predict(b, "e1", 0.0) == "waiting"
    joined = b.add_outcome("e1", label=1, event_time=5.0)
    assert joined.status == "paired"
    assert joined.pair == LabelledPair("e1", "churn", 1, 0.7, 1, 1, 0.0, 5.0)


def test_an_outcome_arriving_before_its_prediction_still_pairs() -> None:
    b = buffer()
    assert b.add_outcome("e1", label=0, event_time=5.0).status == "waiting"
    assert predict(b, "e1", 0.0, p=0.2) == "paired"
    assert b.counts.paired == 1
    assert b.pending_outcomes == 0


def test_a_prediction_without_outcome_is_counted_unlabelled_once_the_delay_passed() -> None:
    b = buffer(delay=60)
    predict(b, "e1", 0.0)
    assert b.advance(59.9) == (0, 0)
    assert b.advance(60.0) == (0, 0)  # the delay's last instant: its outcome may still come
    assert b.pending_predictions == 1
    assert b.advance(60.001) == (1, 0)
    assert b.advance(120.0) == (0, 0)
    assert (b.counts.unlabelled, len(b)) == (1, 0)


def test_an_outcome_without_prediction_is_counted_orphaned() -> None:
    b = buffer(delay=10)
    b.add_outcome("e1", label=1, event_time=3.0)
    assert b.advance(13.0) == (0, 0)
    assert b.advance(13.5) == (0, 1)
    assert b.counts.orphaned == 1


def test_an_outcome_after_its_prediction_expired_is_orphaned_not_paired() -> None:
    b = buffer(delay=10)
    predict(b, "e1", 0.0)
    b.advance(10.5)
    assert b.add_outcome("e1", label=1, event_time=11.0).status == "waiting"
    b.advance(30.0)
    assert (b.counts.paired, b.counts.unlabelled, b.counts.orphaned) == (0, 1, 1)


@pytest.mark.parametrize("prediction_first", [True, False])
def test_redelivered_halves_are_ignored_and_counted_before_and_after_pairing(
    prediction_first: bool,
) -> None:
    b = buffer()
    if prediction_first:
        predict(b, "e1", 0.0)
        assert predict(b, "e1", 0.0) == "duplicate"
    else:
        b.add_outcome("e1", label=1, event_time=5.0)
        assert b.add_outcome("e1", label=1, event_time=5.0).status == "duplicate"
    assert predict(b, "e1", 0.0) in ("paired", "duplicate")
    assert b.add_outcome("e1", label=1, event_time=5.0).status in ("paired", "duplicate")
    assert predict(b, "e1", 0.0) == "duplicate"
    assert b.add_outcome("e1", label=0, event_time=5.0).status == "duplicate"
    assert b.counts.paired == 1
    assert b.counts.duplicate_predictions + b.counts.duplicate_outcomes == 4


def test_a_redelivery_after_the_tombstone_expired_is_late_not_a_second_pair() -> None:
    b = buffer(delay=10)
    predict(b, "e1", 0.0)
    b.add_outcome("e1", label=1, event_time=4.0)
    b.advance(14.5)
    assert len(b) == 0
    assert predict(b, "e1", 0.0) == "late"
    assert b.add_outcome("e1", label=1, event_time=4.0).status == "late"
    assert (b.counts.paired, b.counts.unlabelled, b.counts.late_predictions) == (1, 0, 1)


def test_a_paired_entry_does_not_make_the_next_waiting_one_expire_early() -> None:
    b = buffer(delay=60)
    predict(b, "e1", 0.0)
    b.add_outcome("e1", label=1, event_time=20.0)  # the pair now waits until 80
    predict(b, "e2", 10.0)  # waits until 70
    assert b.advance(61.0) == (0, 0)
    assert b.pending_predictions == 1
    assert b.advance(70.5) == (1, 0)


def test_at_label_delay_0_halves_stamped_the_same_time_pair_in_either_order() -> None:
    """A watermark that reached a prediction's time (another record of that millisecond
    was read) has not passed it: its outcome, stamped that millisecond too, may come
    next, and still pairs; once past, the prediction is unlabelled and a half is late."""
    b = buffer(delay=0)
    predict(b, "e1", 5.0)
    assert b.advance(5.0) == (0, 0)
    assert b.add_outcome("e1", label=1, event_time=5.0).status == "paired"
    b.add_outcome("e2", label=0, event_time=5.0)
    assert predict(b, "e2", 5.0) == "paired"
    predict(b, "e3", 5.0)
    assert b.advance(5.001) == (1, 0)
    assert b.add_outcome("e3", label=1, event_time=5.0).status == "late"
    assert (b.counts.paired, b.counts.unlabelled, len(b)) == (2, 1, 0)


def test_the_watermark_never_moves_back() -> None:
    b = buffer(delay=10)
    b.advance(100.0)
    b.advance(50.0)
    assert b.watermark == 100.0
    assert predict(b, "e1", 89.0) == "late"
    assert predict(b, "e2", 91.0) == "waiting"


def test_a_full_buffer_evicts_the_oldest_entry_and_counts_it() -> None:
    b = buffer(delay=60, cap=3)
    for i in range(4):
        predict(b, f"e{i}", float(10 - i))  # e3 is the oldest by event time
    assert len(b) == 3
    assert (b.counts.capped, b.counts.unlabelled) == (1, 1)
    assert b.add_outcome("e3", label=1, event_time=8.0).status == "waiting"
    assert b.add_outcome("e0", label=1, event_time=12.0).status == "paired"


def simulate(
    seed: int, checkpoint_every: int | None, n: int = 3_000
) -> tuple[JoinBuffer, list[LabelledPair]]:
    """A shuffled stream: 80 % of predictions get an outcome within 0-90 s (delay 60),
    5 % of predictions are never seen, 3 % of records are redelivered and 2 % of
    records arrive 200 s late."""
    rng = random.Random(seed)
    arrivals: list[tuple[float, str, str, float, int]] = []
    for i in range(n):
        t = i * 0.1
        p = rng.random()
        if rng.random() < 0.95:
            arrivals.append((t + rng.uniform(0, 5), "p", f"e{i}", t, 0))
        if rng.random() < 0.8:
            observed = t + rng.uniform(0, 90)
            arrivals.append((observed + rng.uniform(0, 5), "o", f"e{i}", observed, int(p < 0.3)))
    arrivals += rng.sample(arrivals, len(arrivals) * 3 // 100)
    arrivals = [(a + 200 * (rng.random() < 0.02), *rest) for a, *rest in arrivals]
    arrivals.sort()
    b = buffer(delay=60)
    pairs: list[LabelledPair] = []
    for k, (arrival, side, event_id, t, label) in enumerate(arrivals):
        if side == "p":
            joined = b.add_prediction(
                event_id,
                model_name="churn",
                model_version=1,
                probability=0.5,
                prediction=1,
                event_time=t,
            )
        else:
            joined = b.add_outcome(event_id, label=label, event_time=t)
        if joined.pair is not None:
            pairs.append(joined.pair)
        b.advance(arrival - 10)
        if checkpoint_every and k % checkpoint_every == 0:
            b = JoinBuffer.from_bytes(b.to_bytes())
    b.advance(1e9)
    return b, pairs


def test_every_accepted_half_is_paired_or_counted_exactly_once() -> None:
    b, pairs = simulate(seed=4, checkpoint_every=None)
    c = b.counts
    assert len(b) == 0
    assert c.predictions == c.paired + c.unlabelled
    assert c.outcomes == c.paired + c.orphaned
    assert len(pairs) == c.paired == len({p.event_id for p in pairs})
    assert c.duplicate_predictions + c.duplicate_outcomes > 0
    assert c.late_predictions > 0
    assert c.late_outcomes > 0


def test_checkpointing_mid_stream_gives_identical_final_figures() -> None:
    whole, whole_pairs = simulate(seed=9, checkpoint_every=None)
    restored, restored_pairs = simulate(seed=9, checkpoint_every=97)
    assert asdict(restored.counts) == asdict(whole.counts)
    assert restored_pairs == whole_pairs


def test_a_checkpoint_is_compact() -> None:
    b = buffer(delay=3600, cap=100_000)
    for i in range(10_000):
        predict(b, f"s7-e{i}", float(i), p=(i % 97) / 97)
    assert len(b.to_bytes()) < 15 * 10_000


def test_a_restored_buffer_checkpoints_to_the_same_bytes() -> None:
    """Every kind of entry, two models, versions, non-ASCII ids and times that are not
    whole milliseconds survive the round trip field for field."""
    b = buffer(delay=30, cap=1_000)
    b.add_batch(
        [
            ("é-1", 1.0005, "churn", 2, 0.25, 0),
            ("日本-2", 2.0, "other", 7, 0.75, 1),
            ("e3", 3.0, 1),
            ("e3", 2.5, "churn", 2**40, 0.5, 1),
            ("e4", 4.0, 0),
        ]
    )
    data = b.to_bytes()
    restored = JoinBuffer.from_bytes(data)
    assert restored.to_bytes() == data
    assert (restored.pending_predictions, restored.pending_outcomes, len(restored)) == (2, 1, 4)
    assert restored.add_outcome("日本-2", label=1, event_time=5.0).pair == LabelledPair(
        "日本-2", "other", 7, 0.75, 1, 1, 2.0, 5.0
    )


def test_a_corrupt_checkpoint_raises_a_named_error() -> None:
    with pytest.raises(JoinStateError):
        JoinBuffer.from_bytes(b"\x00garbage")
