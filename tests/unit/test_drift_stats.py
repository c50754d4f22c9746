"""The statistics agree with scipy on raw samples and stay within their bounds on bins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from core.drift import stats
from core.drift.profile import NumericProfile


def _binned(ref: np.ndarray, cur: np.ndarray, fine_bins: int = 1000):
    prof = NumericProfile.from_values(ref, fine_bins=fine_bins, psi_bins=10)
    idx = np.searchsorted(prof.edges, cur, side="left")
    size = prof.edges.size + 1
    cur_counts = np.bincount(idx, minlength=size).astype(float)
    cur_sums = np.bincount(idx, weights=cur, minlength=size)
    return prof, cur_counts, cur_sums


@pytest.mark.parametrize(("n", "m"), [(50, 40), (1000, 500), (20_000, 15_000)])
def test_ks_raw_equals_scipy_ks_2samp(n: int, m: int) -> None:
    rng = np.random.default_rng(n)
    a, b = rng.normal(0, 1, n), rng.normal(0.2, 1, m)
    est, ref = stats.ks_raw(a, b), sps.ks_2samp(a, b)
    assert est.statistic == ref.statistic
    assert est.p_value == ref.pvalue


def test_ks_binned_p_value_uses_scipys_asymptotic_formula() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 30_000), rng.normal(0.05, 1, 20_000)
    exact = sps.ks_2samp(a, b, method="asymp")
    assert stats.ks_pvalue(exact.statistic, a.size, b.size) == pytest.approx(
        exact.pvalue, rel=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-1.0, 1.0),
    scale=st.floats(0.5, 2.0),
    m=st.integers(30, 3_000),
    fine_bins=st.sampled_from([100, 1000]),
)
def test_binned_ks_is_within_its_stated_bound_of_the_exact_statistic(
    seed: int, shift: float, scale: float, m: int, fine_bins: int
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(0, 1, 4_000), rng.normal(shift, scale, m)
    prof, cur_counts, _ = _binned(ref, cur, fine_bins)
    est = stats.ks_binned(prof.counts, cur_counts)
    exact = sps.ks_2samp(ref, cur).statistic
    assert est.statistic <= exact + 1e-12
    assert exact <= est.statistic + est.error_bound + 1e-12
    # a binned statistic never overstates, so its p-value is never smaller (conservative)
    assert est.p_value >= stats.ks_pvalue(exact, ref.size, cur.size) - 1e-12


def test_binned_ks_is_exact_for_integer_features_whose_values_are_all_edges() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(18, 90, 20_000), rng.integers(20, 90, 3_000)
    prof, cur_counts, _ = _binned(ref.astype(float), cur.astype(float))
    assert stats.ks_binned(prof.counts, cur_counts).statistic == pytest.approx(
        sps.ks_2samp(ref, cur).statistic, abs=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-2.0, 2.0), scale=st.floats(0.3, 3.0))
def test_binned_wasserstein_is_within_its_stated_bound_of_scipy(
    seed: int, shift: float, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.gamma(2.0, 10.0, 5_000), rng.gamma(2.0, 10.0, 2_000) * scale + shift
    prof, cur_counts, cur_sums = _binned(ref, cur)
    est = stats.wasserstein_binned(
        prof.edges,
        prof.counts.astype(float),
        prof.sums,
        cur_counts,
        cur_sums,
        min(ref.min(), cur.min()),
        max(ref.max(), cur.max()),
    )
    exact = sps.wasserstein_distance(ref, cur)
    assert est.statistic <= exact + 1e-9 * max(exact, 1)
    assert exact <= est.statistic + est.error_bound + 1e-9 * max(exact, 1)


def test_binned_wasserstein_is_exact_for_a_clear_shift() -> None:
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(50_000, 15_000, 5_000), rng.normal(65_000, 15_000, 2_000)
    prof, cur_counts, cur_sums = _binned(ref, cur)
    est = stats.wasserstein_binned(
        prof.edges, prof.counts.astype(float), prof.sums, cur_counts, cur_sums,
        min(ref.min(), cur.min()), max(ref.max(), cur.max()),
    )  # fmt: skip
    assert est.statistic == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-3)


def test_wasserstein_raw_equals_scipy() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 700), rng.normal(0.3, 2, 300)
    assert stats.wasserstein_raw(a, b).statistic == sps.wasserstein_distance(a, b)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [([500, 300, 200], [450, 300, 250]), ([90, 10, 0], [80, 15, 5]), ([1000, 1], [3, 900])],
)
def test_chi2_homogeneity_equals_scipy_contingency_and_chisquare(
    ref: list[int], cur: list[int]
) -> None:
    est = stats.chi2_homogeneity(ref, cur)
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    contingency = sps.chi2_contingency(table, correction=False)
    assert est.statistic == pytest.approx(contingency.statistic, rel=1e-12)
    assert est.p_value == pytest.approx(contingency.pvalue, rel=1e-9, abs=1e-300)
    k = table.shape[1]
    gof = sps.chisquare(table.ravel(), contingency.expected_freq.ravel(), ddof=k)
    assert est.statistic == pytest.approx(gof.statistic, rel=1e-12)
    assert est.p_value == pytest.approx(gof.pvalue, rel=1e-9, abs=1e-300)


def test_chi2_with_a_single_category_is_no_evidence() -> None:
    assert stats.chi2_homogeneity([10, 0], [5, 0]).p_value == 1.0


@pytest.mark.parametrize(
    ("p", "q"), [([5, 3, 2], [4, 3, 3]), ([1, 0, 0], [0, 0, 1]), ([1, 1], [1, 1])]
)
def test_js_distance_equals_scipy_jensenshannon_base_2(p: list[int], q: list[int]) -> None:
    expected = jensenshannon(np.array(p, float), np.array(q, float), base=2)
    assert stats.js_distance(p, q).statistic == pytest.approx(expected, abs=1e-12)


def test_psi_is_finite_with_empty_bins_thanks_to_smoothing() -> None:
    value = stats.psi([100, 0, 50], [0, 80, 0], smoothing=0.5).statistic
    assert np.isfinite(value)
    assert value > 1


def test_psi_matches_the_textbook_formula_without_smoothing() -> None:
    ref, cur = np.array([0.2, 0.3, 0.5]), np.array([0.25, 0.25, 0.5])
    expected = float(np.sum((cur - ref) * np.log(cur / ref)))
    assert stats.psi(ref * 1000, cur * 1000, smoothing=0).statistic == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "band"), [(0.05, "none"), (0.1, "moderate"), (0.2, "moderate"), (0.21, "significant")]
)
def test_psi_bands_follow_the_usual_reading(value: float, band: str) -> None:
    assert stats.psi_band(value) == band


def test_benjamini_hochberg_matches_the_step_up_definition() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    adjusted = stats.adjust_pvalues(p, "bh")
    rejected = adjusted < 0.05
    # step-up: the largest k with p_(k) <= k/m * q, and every smaller p
    k = max(i + 1 for i, v in enumerate(np.sort(p)) if v <= (i + 1) / p.size * 0.05)
    assert rejected.sum() == k
    assert stats.adjust_pvalues(p, "bonferroni") == pytest.approx(np.minimum(p * p.size, 1))
