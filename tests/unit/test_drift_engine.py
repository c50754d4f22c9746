"""The engine's verdicts: real shifts drift, stable data does not, at every window size."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.drift.config import DriftConfig
from core.drift.evaluate import compare_frames, evaluate
from core.drift.profile import ReferenceProfile
from core.drift.window_state import WindowState

NUMERIC = ["age", "tenure_months", "monthly_charges", "total_charges"]
CATEGORICAL = ["contract_type"]
CONTRACTS = ["month-to-month", "one_year", "two_year"]


def churn_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    tenure = rng.integers(0, 72, n)
    monthly = rng.gamma(4.0, 18.0, n).round(2)
    return pd.DataFrame(
        {
            "age": rng.normal(45, 14, n).clip(18, 90).round().astype(int),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": (monthly * tenure * rng.uniform(0.9, 1.1, n)).round(2),
            "contract_type": rng.choice(CONTRACTS, n, p=[0.55, 0.25, 0.2]),
        }
    )


def classic(rng: np.random.Generator, n: int, income_mean: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(35, 10, n),
            "income": rng.normal(income_mean, 15_000, n),
            "debt_ratio": rng.beta(2, 5, n),
        }
    )


def test_classic_case_income_drifts_by_ks_and_psi_while_age_and_debt_ratio_do_not() -> None:
    rng = np.random.default_rng(2024)
    reference, current = classic(rng, 1_000, 50_000), classic(rng, 500, 65_000)
    report = compare_frames(reference, current, ["age", "income", "debt_ratio"], [], DriftConfig())
    income = report.feature("income")
    assert income.drift
    assert income.test("ks").verdict
    assert income.test("psi").verdict
    assert income.test("psi").band == "significant"
    assert not report.feature("age").drift
    assert not report.feature("debt_ratio").drift
    assert report.drifting_features == ["income"]


def test_classic_case_over_many_seeds_detects_income_always_and_false_alarms_near_alpha() -> None:
    """With effect thresholds out of the way the unchanged features alarm at about alpha
    (the test is calibrated); with the default thresholds they alarm even less."""
    alpha = 0.05
    bare = DriftConfig(
        alpha=alpha, ks_threshold=1e-9, psi_threshold=1e-9, wasserstein_threshold=1e-9
    )
    seeds = 200
    detected, false_bare, false_default = 0, 0, 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        reference, current = classic(rng, 1_000, 50_000), classic(rng, 500, 65_000)
        features = ["age", "income", "debt_ratio"]
        report = compare_frames(reference, current, features, [], bare)
        default = compare_frames(reference, current, features, [], DriftConfig(alpha=alpha))
        detected += default.feature("income").drift
        false_bare += report.feature("age").drift + report.feature("debt_ratio").drift
        false_default += default.feature("age").drift + default.feature("debt_ratio").drift
    trials = 2 * seeds
    assert detected == seeds
    assert 0.01 <= false_bare / trials <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / trials)
    assert false_default <= false_bare


@pytest.mark.parametrize("window", [100, 1_000, 10_000, 100_000])
@pytest.mark.parametrize("resample", [True, False], ids=["resampled", "fresh-draws"])
def test_null_windows_from_the_reference_alarm_at_no_more_than_alpha(
    window: int, resample: bool
) -> None:
    """Windows from the reference distribution, both with every effect threshold out of
    the way (the p-values alone) and with the defaults, at the configured alpha."""
    rng = np.random.default_rng(window + resample)
    reference = churn_frame(rng, 20_000)
    profile = ReferenceProfile.from_frame(reference, NUMERIC, CATEGORICAL)
    alpha = 0.05
    bare = DriftConfig(
        alpha=alpha, min_window_events=100, ks_threshold=1e-9, psi_threshold=1e-9,
        wasserstein_threshold=1e-9, js_threshold=1e-9,
    )  # fmt: skip
    defaults = DriftConfig(alpha=alpha, min_window_events=100)
    reps = 120 if window < 100_000 else 40
    alarms_bare = alarms_default = 0
    for _ in range(reps):
        if resample:
            rows = reference.iloc[rng.integers(0, len(reference), window)]
        else:
            rows = churn_frame(rng, window)
        state = WindowState.empty(profile).update(rows)
        alarms_bare += evaluate(profile, state, bare).drift_detected
        alarms_default += evaluate(profile, state, defaults).drift_detected
    limit = alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)
    assert alarms_bare / reps <= limit
    assert alarms_default <= alarms_bare


def test_a_large_window_with_a_negligible_shift_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 50_000)})
    profile = ReferenceProfile.from_frame(reference, ["x"], [])
    state = WindowState.empty(profile).update({"x": rng.normal(0.04, 1, 200_000)})
    report = evaluate(profile, state, DriftConfig())
    ks = report.feature("x").test("ks")
    assert ks.p_value is not None
    assert ks.p_value < 1e-6
    assert not report.drift_detected


def test_a_small_noisy_window_is_not_drift_even_when_its_psi_looks_moderate() -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 20_000)})
    profile = ReferenceProfile.from_frame(reference, ["x"], [])
    config = DriftConfig(min_window_events=50)
    psis, alarms = [], 0
    for _ in range(100):
        state = WindowState.empty(profile).update({"x": rng.normal(0, 1, 60)})
        report = evaluate(profile, state, config)
        psis.append(report.feature("x").test("psi").statistic)
        alarms += report.drift_detected
    assert max(psis) > 0.1  # PSI alone would have alarmed on noise
    assert alarms <= 3


def test_windows_below_the_minimum_size_are_not_judged_and_say_why() -> None:
    rng = np.random.default_rng(1)
    profile = ReferenceProfile.from_frame(churn_frame(rng, 5_000), NUMERIC, CATEGORICAL)
    state = WindowState.empty(profile).update(churn_frame(rng, 120))
    report = evaluate(profile, state, DriftConfig(min_window_events=500))
    assert not report.judged
    assert not report.drift_detected
    assert "120 events" in report.note
    assert report.features_analysed == 0


def test_unseen_categories_are_counted_reported_and_make_the_feature_drift() -> None:
    rng = np.random.default_rng(2)
    reference = churn_frame(rng, 5_000)
    current = churn_frame(rng, 2_000)
    current.loc[:399, "contract_type"] = "prepaid"
    report = compare_frames(reference, current, NUMERIC, CATEGORICAL, DriftConfig())
    contract = report.feature("contract_type")
    assert contract.unseen == {"prepaid": 400}
    assert contract.current["prepaid"] == pytest.approx(0.2)
    assert contract.drift
    assert report.drifting_features == ["contract_type"]


def test_the_report_is_json_serializable_with_every_part_the_issue_lists() -> None:
    rng = np.random.default_rng(3)
    reference, current = churn_frame(rng, 3_000), churn_frame(rng, 1_000)
    current["monthly_charges"] *= 1.3
    report = compare_frames(reference, current, NUMERIC, CATEGORICAL, DriftConfig())
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["features_analysed"] == 5
    assert d["features_drifting"] == 1
    assert d["drift_detected"] is True
    monthly = next(f for f in d["features"] if f["name"] == "monthly_charges")
    assert set(monthly["reference"]) >= {"mean", "std"}
    assert {t["name"] for t in monthly["tests"]} == {"ks", "psi", "wasserstein"}
    for t in monthly["tests"]:
        assert {"statistic", "p_value", "threshold", "verdict"} <= set(t)
    contract = next(f for f in d["features"] if f["name"] == "contract_type")
    assert sum(contract["reference"].values()) == pytest.approx(1.0)
    assert {t["name"] for t in contract["tests"]} == {"chi2", "psi", "js"}


def test_bonferroni_is_never_more_permissive_than_benjamini_hochberg() -> None:
    rng = np.random.default_rng(8)
    reference, current = churn_frame(rng, 4_000), churn_frame(rng, 1_500)
    current["age"] += 3
    current["tenure_months"] += 4
    bh = compare_frames(reference, current, NUMERIC, CATEGORICAL, DriftConfig(correction="bh"))
    bonf = compare_frames(
        reference, current, NUMERIC, CATEGORICAL, DriftConfig(correction="bonferroni")
    )
    for f_bh, f_bonf in zip(bh.features, bonf.features, strict=True):
        assert f_bonf.tests[0].p_value >= f_bh.tests[0].p_value


def test_binned_and_exact_paths_agree_on_verdicts_and_within_bounds() -> None:
    rng = np.random.default_rng(4)
    reference, current = churn_frame(rng, 10_000), churn_frame(rng, 3_000)
    current["total_charges"] *= 1.4
    exact = compare_frames(reference, current, NUMERIC, CATEGORICAL, DriftConfig())
    profile = ReferenceProfile.from_frame(reference, NUMERIC, CATEGORICAL)
    binned = evaluate(profile, WindowState.empty(profile).update(current), DriftConfig())
    assert exact.drifting_features == binned.drifting_features == ["total_charges"]
    for name in NUMERIC:
        for test in ("ks", "wasserstein"):
            e, b = exact.feature(name).test(test), binned.feature(name).test(test)
            assert b.statistic - 1e-9 <= e.statistic <= b.statistic + b.error_bound + 1e-9


def test_features_are_generic_any_numeric_and_categorical_columns_work() -> None:
    rng = np.random.default_rng(6)
    reference = pd.DataFrame({"a": rng.exponential(1, 2_000), "b": rng.choice(["x", "y"], 2_000)})
    current = pd.DataFrame({"a": rng.exponential(1, 800), "b": rng.choice(["x", "y"], 800)})
    report = compare_frames(reference, current, ["a"], ["b"], DriftConfig())
    assert [f.name for f in report.features] == ["a", "b"]
    assert not report.drift_detected
