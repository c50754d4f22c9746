"""The champion/challenger gate: a floor, then non-inferiority by a paired bootstrap."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from core.features import FEATURES, TARGET
from core.retraining.exceptions import GateError
from core.retraining.gate import GateSpec, compare, gate, holdout_metrics, paired_bootstrap
from core.training import build_pipeline
from producers.generator import ChurnGenerator
from producers.scenarios import ConceptDrift

HOLDOUT_ROWS = 4000


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


def fitted(seed: int, rows: int = 4000, scenarios=(), scramble: bool = False):
    df = ChurnGenerator(seed, scenarios).reference(rows)
    y = df[TARGET].to_numpy()
    if scramble:
        y = np.random.default_rng(seed).permutation(y)
    return build_pipeline("logistic", seed).fit(df[list(FEATURES)], y)


@pytest.fixture(scope="module")
def holdout():
    return ChurnGenerator(seed=101).reference(HOLDOUT_ROWS)


@pytest.fixture(scope="module")
def champion():
    return fitted(seed=1)


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1", "log_loss", "brier"])
def test_the_vectorised_metrics_equal_sklearn_on_every_resample(metric):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.3 * y + rng.uniform(0, 0.7, 300), 0, 1), 2)  # ties on purpose
    scores, _ = paired_bootstrap(y, p, p, metric, 5, seed=9)
    draws = np.random.default_rng(9).integers(0, 300, size=(5, 300))
    reference = {
        "roc_auc": roc_auc_score,
        "accuracy": lambda t, q: accuracy_score(t, q >= 0.5),
        "f1": lambda t, q: f1_score(t, q >= 0.5),
        "log_loss": lambda t, q: log_loss(t, q, labels=[0, 1]),
        "brier": brier_score_loss,
    }[metric]
    expected = [reference(y[i], p[i]) for i in draws]
    assert scores == pytest.approx(expected, rel=1e-9)


def test_a_clearly_better_challenger_passes(champion):
    drifted = (ConceptDrift(strength=1.0),)
    holdout = ChurnGenerator(seed=102, scenarios=drifted).reference(HOLDOUT_ROWS)
    verdict = gate(fitted(seed=2, scenarios=drifted), champion, holdout, GateSpec())
    assert verdict.passed, verdict.reasons
    assert verdict.difference > 0.2
    assert verdict.interval[0] > 0.2
    assert verdict.champion["roc_auc"] < verdict.challenger["roc_auc"]


def test_an_identical_model_is_not_inferior_and_passes(champion, holdout):
    verdict = gate(champion, champion, holdout, GateSpec())
    assert verdict.passed, verdict.reasons
    assert verdict.difference == 0.0
    assert verdict.interval == (0.0, 0.0)
    assert verdict.champion == verdict.challenger


def test_a_challenger_trained_on_scrambled_labels_is_rejected(champion, holdout):
    verdict = gate(fitted(seed=3, scramble=True), champion, holdout, GateSpec())
    assert not verdict.passed
    assert "misses the floor" in verdict.reasons[0]
    assert "possibly worse" in verdict.reasons[1]


def test_without_a_champion_the_floor_alone_decides(holdout):
    good = gate(fitted(seed=4), None, holdout, GateSpec())
    bad = gate(fitted(seed=4, scramble=True), None, holdout, GateSpec())
    assert (good.passed, bad.passed) == (True, False)
    assert good.champion is None
    assert good.interval is None


@pytest.mark.parametrize("seed", range(6))
def test_a_retrain_on_the_same_world_is_never_rejected_for_noise(seed, champion, holdout):
    verdict = gate(fitted(seed=200 + seed), champion, holdout, GateSpec(seed=seed))
    assert verdict.passed, verdict.reasons
    assert abs(verdict.difference) < 0.01


@pytest.mark.parametrize("seed", range(6))
def test_a_challenger_worse_by_more_than_the_margin_is_never_promoted(seed, holdout, champion):
    """The worse challenger is the champion with noise in its logit: still above the
    floor, but about 0.03 AUC lower, three times the margin."""
    y = holdout[TARGET].to_numpy()
    p = champion.predict_proba(holdout[list(FEATURES)])[:, 1]
    noise = np.random.default_rng(seed).normal(0.0, 0.9, len(p))
    worse = expit(logit(p) + noise)
    verdict = compare(y, worse, p, GateSpec(seed=seed))
    assert verdict.challenger["roc_auc"] >= 0.70
    assert -0.06 < verdict.difference < -0.015
    assert not verdict.passed, verdict.reasons


def test_a_slightly_worse_challenger_within_the_margin_passes(holdout, champion):
    y = holdout[TARGET].to_numpy()
    p = champion.predict_proba(holdout[list(FEATURES)])[:, 1]
    slightly = expit(logit(p) + np.random.default_rng(0).normal(0.0, 0.15, len(p)))
    verdict = compare(y, slightly, p, GateSpec())
    assert -0.005 < verdict.difference < 0
    assert verdict.passed, verdict.reasons


def test_lower_is_better_metrics_count_a_smaller_loss_as_an_advantage(champion):
    drifted = (ConceptDrift(strength=1.0),)
    holdout = ChurnGenerator(seed=103, scenarios=drifted).reference(HOLDOUT_ROWS)
    spec = GateSpec(metric="log_loss", floor=0.6)
    verdict = gate(fitted(seed=5, scenarios=drifted), champion, holdout, spec)
    assert verdict.challenger["log_loss"] < verdict.champion["log_loss"]
    assert verdict.difference > 0
    assert verdict.passed, verdict.reasons


def test_the_verdict_is_reproducible_from_its_seed(champion, holdout):
    challenger = fitted(seed=6)
    assert gate(challenger, champion, holdout, GateSpec(seed=3)) == gate(
        challenger, champion, holdout, GateSpec(seed=3)
    )


def test_the_verdict_carries_all_five_figures_for_both_models(champion, holdout):
    verdict = gate(fitted(seed=7), champion, holdout, GateSpec())
    names = {"roc_auc", "accuracy", "f1", "log_loss", "brier"}
    assert set(verdict.challenger) == set(verdict.champion) == names
    assert verdict.to_dict()["holdout_rows"] == HOLDOUT_ROWS


def test_a_holdout_of_one_class_cannot_be_gated():
    with pytest.raises(GateError, match="one class"):
        compare(np.ones(10), np.full(10, 0.6), np.full(10, 0.4))


def test_holdout_metrics_match_the_serving_threshold():
    figures = holdout_metrics([0, 1, 1, 0], [0.2, 0.5, 0.9, 0.49])
    assert figures["accuracy"] == 1.0


def test_the_fast_auc_of_continuous_scores_equals_sklearn():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 500)
    p = rng.uniform(size=500) + 0.2 * y
    scores, _ = paired_bootstrap(y, p, p, "roc_auc", 4, seed=2)
    draws = np.random.default_rng(2).integers(0, 500, size=(4, 500))
    assert scores == pytest.approx([roc_auc_score(y[i], p[i]) for i in draws], rel=1e-9)
