"""The monitor core end to end: join, windows, verdicts and alerts, across checkpoints."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from core.performance.config import PerformanceConfig
from core.performance.monitor import PerformanceMonitor, WindowResult
from core.schemas import Outcome, Prediction, RiskLevel

EPOCH = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
CONFIG = PerformanceConfig(
    metric="accuracy", floor=0.70, window_seconds=10, label_delay_s=5, min_labels=50
)
HOLDOUT = {("churn", 1): 0.75}
"""A calibrated model on uniform probabilities has accuracy 0.75: threshold 0.70."""


def prediction(i: int, probability: float) -> Prediction:
    return Prediction(
        event_id=f"e{i}",
        customer_id=f"c{i}",
        prediction=int(probability >= 0.5),
        probability=probability,
        risk_level=RiskLevel.of(probability),
        model_name="churn",
        model_version=1,
        scored_at=datetime.fromtimestamp(EPOCH, UTC),
    )


def replay(
    checkpoint_every: int | None, n: int = 2_000
) -> tuple[PerformanceMonitor, list[WindowResult]]:
    """20 predictions/s; 90 % get an outcome 0-4 s later; 5 % of records are redelivered;
    from event 1,000 on the labels are the opposite of the model's call."""
    rng = random.Random(5)
    arrivals: list[tuple[float, int, str, float, float, int]] = []
    for i in range(n):
        t = EPOCH + i / 20
        p = rng.random()
        label = int(rng.random() < p) if i < 1_000 else int(p < 0.5)
        arrivals.append((t, i, "p", t, p, label))
        if rng.random() < 0.9:
            observed = t + rng.uniform(0, 4)
            arrivals.append((observed, i, "o", observed, p, label))
    arrivals += rng.sample(arrivals, len(arrivals) // 20)
    arrivals.sort()
    monitor = PerformanceMonitor(CONFIG, HOLDOUT)
    results: list[WindowResult] = []
    for k, (arrival, i, side, t, p, label) in enumerate(arrivals):
        if side == "p":
            monitor.add_prediction(prediction(i, p), event_time=t)
        else:
            observed_at = datetime.fromtimestamp(t, UTC)
            monitor.add_outcome(
                Outcome(
                    event_id=f"e{i}", customer_id=f"c{i}", churned=label, observed_at=observed_at
                )
            )
        if k % 50 == 49:
            results += monitor.advance(arrival - 1)
        if checkpoint_every and k % checkpoint_every == 0:
            monitor = PerformanceMonitor.from_bytes(monitor.to_bytes(), CONFIG, HOLDOUT)
    results += monitor.advance(1e12)
    return monitor, results


def test_every_prediction_is_counted_once_in_its_window_despite_redeliveries() -> None:
    monitor, results = replay(checkpoint_every=None)
    counts = monitor.join.counts
    assert sum(r.record.predictions for r in results) == counts.predictions == 2_000
    assert sum(r.record.labelled_events for r in results) == counts.paired
    assert counts.paired + counts.unlabelled == 2_000
    assert counts.duplicate_predictions + counts.duplicate_outcomes > 0
    assert all(0.8 <= (r.record.coverage or 0) <= 1 for r in results)


def test_a_reversed_relation_alerts_and_the_stable_part_does_not() -> None:
    _, results = replay(checkpoint_every=None)
    alerts = [r for r in results if r.alert is not None]
    assert len(alerts) == 1
    assert alerts[0].record.window_start.timestamp() >= EPOCH + 50  # event 1,000 at 50 s
    assert not any(
        r.record.failing for r in results if r.record.window_end.timestamp() <= EPOCH + 50
    )


def test_checkpointing_mid_stream_gives_identical_records_and_alerts() -> None:
    _, whole = replay(checkpoint_every=None)
    _, restored = replay(checkpoint_every=333)

    def comparable(results: list[WindowResult]) -> list[dict[str, object]]:
        return [
            r.record.model_dump()
            | {"alert": r.alert and r.alert.model_dump(exclude={"created_at"})}
            for r in results
        ]

    assert comparable(restored) == comparable(whole)
