"""Performance windows: by prediction time, per version, closed after the label delay."""

from __future__ import annotations

import numpy as np

from core.performance.join import LabelledPair
from core.performance.metrics import MetricState
from core.performance.windows import PerformanceWindows


def pair(event_id: str, t: float, version: int = 1, label: int = 1) -> LabelledPair:
    return LabelledPair(event_id, "churn", version, 0.7, 1, label, t, t + 5)


def test_pairs_land_in_the_window_of_their_prediction_time_not_their_label_time() -> None:
    w = PerformanceWindows(window_seconds=60, label_delay_s=100)
    w.add_pairs([pair("a", 59.0), pair("b", 60.0)])
    closed = w.close(1e6)
    assert [(c.start, c.state.labelled) for c in closed] == [(0.0, 1), (60.0, 1)]


def test_each_model_version_has_its_own_windows_and_cumulative_state() -> None:
    w = PerformanceWindows(window_seconds=60, label_delay_s=0)
    for version in (1, 2, 2):
        w.add_prediction("churn", version, 10.0)
    w.add_pairs([pair("a", 10.0, version=1), pair("b", 11.0, version=2)])
    closed = w.close(60.0)
    assert [(c.model_version, c.state.predictions, c.state.labelled) for c in closed] == [
        (1, 1, 1),
        (2, 2, 1),
    ]
    assert w.cumulative[("churn", 2)].predictions == 2


def test_a_window_stays_open_until_its_labels_had_the_full_delay() -> None:
    w = PerformanceWindows(window_seconds=60, label_delay_s=30)
    w.add_prediction("churn", 1, 1.0)
    assert w.close(89.9) == []
    w.add_pairs([pair("a", 1.0)])
    (closed,) = w.close(90.0)
    assert closed.state.coverage() == 1.0


def test_input_for_a_closed_window_is_counted_late_and_dropped() -> None:
    w = PerformanceWindows(window_seconds=60, label_delay_s=0)
    w.add_prediction("churn", 1, 1.0)
    w.close(60.0)
    assert w.add_prediction("churn", 1, 2.0) is False
    assert w.add_pairs([pair("a", 3.0)]) == 1
    assert w.late == 2
    assert w.open == {}


def test_cumulative_state_equals_the_merge_of_its_windows() -> None:
    rng = np.random.default_rng(2)
    w = PerformanceWindows(window_seconds=10, label_delay_s=0)
    pairs = [
        LabelledPair(f"e{i}", "churn", 1, float(p), int(p >= 0.5), int(rng.random() < p), i, i)
        for i, p in enumerate(rng.random(300))
    ]
    for p in pairs:
        w.add_prediction("churn", 1, p.predicted_at)
    w.add_pairs(pairs)
    merged = MetricState()
    for closed in w.flush():
        merged = merged.merge(closed.state)
    assert merged.to_dict() == w.cumulative[("churn", 1)].to_dict()


def test_windows_round_trip_through_bytes_mid_stream() -> None:
    w = PerformanceWindows(window_seconds=60, label_delay_s=30)
    w.add_prediction("churn", 1, 1.0)
    w.add_pairs([pair("a", 1.0)])
    w.close(50.0)
    restored = PerformanceWindows.from_bytes(w.to_bytes())
    assert restored.watermark == 50.0
    assert [c.state.to_dict() for c in restored.close(90.0)] == [
        c.state.to_dict() for c in w.close(90.0)
    ]
