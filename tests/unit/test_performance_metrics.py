"""Streaming quality metrics: agree with sklearn, merge exactly, stay bounded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

from core.performance.metrics import MetricState, MetricStateError


def sample(n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A calibrated score stream: label ~ Bernoulli(p), prediction at 0.5."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 3.0, n)
    y = (rng.random(n) < p).astype(int)
    return p, (p >= 0.5).astype(int), y


def test_accuracy_log_loss_and_brier_agree_with_sklearn_to_1e_9() -> None:
    p, pred, y = sample(20_000)
    state = MetricState().update(p, pred, y)
    assert state.accuracy() == accuracy_score(y, pred)
    assert state.log_loss() == pytest.approx(log_loss(y, p), abs=1e-9)
    assert state.brier() == pytest.approx(brier_score_loss(y, p), abs=1e-9)


def test_log_loss_clips_certain_wrong_predictions_like_sklearn() -> None:
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    y = np.array([1, 0, 1, 0, 1])
    state = MetricState().update(p, (p >= 0.5).astype(int), y)
    assert state.log_loss() == pytest.approx(log_loss(y, p), abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_auc_is_within_its_stated_bound_and_1e_3_of_sklearn(seed: int) -> None:
    p, pred, y = sample(50_000, seed)
    state = MetricState().update(p, pred, y)
    exact = roc_auc_score(y, p)
    bound = state.auc_error_bound()
    assert bound is not None
    assert bound < 1e-3
    assert abs(state.roc_auc() - exact) <= bound  # type: ignore[operator]
    assert state.roc_auc() == pytest.approx(exact, abs=1e-3)


def test_auc_of_scores_that_all_share_one_bin_is_one_half_with_bound_one_half() -> None:
    state = MetricState().update([0.5001, 0.5002], [1, 1], [0, 1])
    assert state.roc_auc() == 0.5
    assert state.auc_error_bound() == 0.5


def test_delong_variance_from_the_histogram_matches_the_raw_score_formula() -> None:
    p, pred, y = sample(3_000)
    p = np.round(p, 3) - 0.0004  # one distinct score per bin: the histogram is exact
    p = np.clip(p, 0, 1)
    state = MetricState().update(p, pred, y)
    pos, neg = p[y == 1], p[y == 0]
    greater = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc = greater.mean()
    v10, v01 = greater.mean(axis=1), greater.mean(axis=0)
    variance = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    assert state.roc_auc() == pytest.approx(auc, abs=1e-12)
    assert state.auc_variance() == pytest.approx(variance, rel=1e-9)


def test_rates_coverage_and_calibration_table_count_what_they_say() -> None:
    p = np.array([0.05, 0.15, 0.18, 0.95, 0.99])
    pred = np.array([0, 0, 0, 1, 1])
    y = np.array([0, 1, 0, 1, 1])
    state = MetricState().update(p, pred, y).add_predictions(10)
    assert (state.positive_rate(), state.predicted_rate(), state.coverage()) == (0.6, 0.4, 0.5)
    table = state.calibration()
    assert len(table) == 10
    assert [row["count"] for row in table] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table[1]["mean_predicted"] == pytest.approx(0.165, abs=1e-9)
    assert table[1]["observed_rate"] == 0.5
    assert table[2]["mean_predicted"] is None


def test_two_halves_merge_into_exactly_the_state_of_the_whole() -> None:
    p, pred, y = sample(10_001)
    whole = MetricState().update(p, pred, y).add_predictions(12_000)
    left = MetricState().update(p[:3_333], pred[:3_333], y[:3_333]).add_predictions(5_000)
    right = MetricState().update(p[3_333:], pred[3_333:], y[3_333:]).add_predictions(7_000)
    assert left.merge(right).to_dict() == whole.to_dict()
    assert right.merge(left).figures() == whole.figures()


def test_state_round_trips_through_bytes() -> None:
    p, pred, y = sample(5_000)
    state = MetricState().update(p, pred, y).add_predictions(6_000)
    restored = MetricState.from_bytes(state.to_bytes())
    assert restored.to_dict() == state.to_dict()
    assert restored.calibration() == state.calibration()


def test_a_million_labelled_predictions_keep_the_state_small() -> None:
    p, pred, y = sample(1_000_000)
    state = MetricState().update(p, pred, y)
    in_memory = state.positives.nbytes + state.negatives.nbytes + state.probability_fx.nbytes
    assert in_memory <= 16_100
    assert len(state.to_bytes()) < 10_000


def test_empty_state_reports_no_figures_rather_than_zero() -> None:
    figures = MetricState().figures()
    assert set(figures.values()) == {None}


def test_one_class_window_has_no_auc() -> None:
    state = MetricState().update([0.2, 0.7], [0, 1], [1, 1])
    assert state.roc_auc() is None
    assert state.auc_variance() is None


def test_states_with_different_bins_refuse_to_merge() -> None:
    with pytest.raises(MetricStateError):
        MetricState(1000).merge(MetricState(100))


def test_probabilities_outside_zero_one_are_refused() -> None:
    with pytest.raises(MetricStateError):
        MetricState().update([1.2], [1], [1])


def test_a_corrupt_checkpoint_raises_a_named_error() -> None:
    with pytest.raises(MetricStateError):
        MetricState.from_bytes(b"not a state")
