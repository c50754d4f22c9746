"""The drift engine: a window state (or a raw sample) against the reference profile.

One rule for every feature, numeric or categorical: a feature drifts when its test is
significant after the correction across features (KS for numeric, two-sample
chi-squared for categorical; adjusted p < alpha) AND at least one of its effect sizes
reaches its threshold (KS statistic, PSI, normalised Wasserstein for numeric; PSI and
Jensen-Shannon distance for categorical). The test alone alarms on negligible shifts in
large windows; an effect size alone alarms on noise in small windows; together they
need a shift that is both real and big enough to matter. Windows with fewer than
``min_window_events`` events are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from core.drift import stats
from core.drift.config import DriftConfig
from core.drift.profile import (
    CategoricalProfile,
    FloatArray,
    NumericProfile,
    ReferenceProfile,
    numeric_values,
)
from core.drift.report import DriftReport, FeatureResult, TestResult
from core.drift.window_state import CategoricalAccumulator, NumericAccumulator, WindowState

DISPLAY_BINS = 30
RawSamples = Mapping[str, tuple[FloatArray, FloatArray]]


def evaluate(
    profile: ReferenceProfile,
    state: WindowState,
    config: DriftConfig,
    *,
    raw: RawSamples | None = None,
) -> DriftReport:
    """Judge one window. With ``raw`` (reference, current) arrays for numeric features,
    KS and Wasserstein run on them through scipy (exact); otherwise on the fine bins.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"income": rng.normal(50_000, 15_000, 5_000)})
    >>> profile = ReferenceProfile.from_frame(ref, numeric=["income"], categorical=[])
    >>> shifted = WindowState.empty(profile).update({"income": rng.normal(65_000, 15_000, 2_000)})
    >>> report = evaluate(profile, shifted, DriftConfig())
    >>> report.drift_detected, report.drifting_features
    (True, ['income'])
    >>> same = WindowState.empty(profile).update({"income": rng.normal(50_000, 15_000, 2_000)})
    >>> evaluate(profile, same, DriftConfig()).drift_detected
    False
    """
    judged = state.events >= config.min_window_events
    note = (
        ""
        if judged
        else f"window has {state.events} events, fewer than min_window_events "
        f"{config.min_window_events}: not judged"
    )
    results: list[FeatureResult] = []
    for name, ref_num in profile.numeric.items():
        samples = raw.get(name) if raw is not None else None
        results.append(_numeric(name, ref_num, state.numeric[name], config, judged, samples))
    for name, ref_cat in profile.categorical.items():
        results.append(_categorical(name, ref_cat, state.categorical[name], config, judged))
    return DriftReport(
        features=_apply_verdicts(results, config),
        reference_rows=profile.rows,
        current_rows=state.events,
        judged=judged,
        exact=raw is not None,
        alpha=config.alpha,
        correction=config.correction,
        note=note,
    )


def compare_frames(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    config: DriftConfig,
) -> DriftReport:
    """Offline comparison of two samples: the same engine, exact on the raw values."""
    profile = ReferenceProfile.from_frame(reference, numeric, categorical)
    state = WindowState.empty(profile).update(current[[*numeric, *categorical]])
    raw = {c: (numeric_values(reference[c]), numeric_values(current[c])) for c in numeric}
    return evaluate(profile, state, config, raw=raw)


def _not_analysed(result: FeatureResult, why: str) -> FeatureResult:
    return replace(result, analysed=False, note=why)


def _numeric(
    name: str,
    ref: NumericProfile,
    cur: NumericAccumulator,
    config: DriftConfig,
    judged: bool,
    samples: tuple[FloatArray, FloatArray] | None,
) -> FeatureResult:
    base = FeatureResult(
        name=name,
        kind="numeric",
        reference_count=ref.count,
        current_count=cur.n,
        current_missing=cur.missing,
        reference={"mean": ref.mean, "std": ref.std, "min": ref.minimum, "max": ref.maximum},
        current={
            "mean": cur.mean if cur.n else None,
            "std": cur.std if cur.n else None,
            "min": cur.minimum if cur.n else None,
            "max": cur.maximum if cur.n else None,
        },
    )
    if cur.n:  # drawn even when not judged: people still want to see the window
        base = replace(base, histogram=_numeric_histogram(ref, cur))
    if not judged:
        return _not_analysed(base, "window too small")
    if cur.n < config.min_window_events:
        return _not_analysed(base, f"{cur.n} valid values, fewer than min_window_events")
    ref_counts = ref.counts.astype(np.float64)
    cur_counts = cur.counts.astype(np.float64)
    scale = ref.std if ref.std > 0 else 1.0
    if samples is not None:
        ks = stats.ks_raw(*samples)
        wd = stats.wasserstein_raw(*samples)
    else:
        ks = stats.ks_binned(ref_counts, cur_counts)
        wd = stats.wasserstein_binned(
            ref.edges,
            ref_counts,
            ref.sums,
            cur_counts,
            cur.sums,
            min(ref.minimum, cur.minimum),
            max(ref.maximum, cur.maximum),
        )
    psi_map = ref.psi_map()
    size = ref.psi_edges.size + 1
    psi = stats.psi(
        np.bincount(psi_map, weights=ref_counts, minlength=size),
        np.bincount(psi_map, weights=cur_counts, minlength=size),
        config.psi_smoothing,
    )
    tests = (
        TestResult("ks", ks.statistic, config.ks_threshold, False, ks.p_value, ks.p_value,
                   ks.error_bound),
        TestResult("psi", psi.statistic, config.psi_threshold, False,
                   band=stats.psi_band(psi.statistic)),
        TestResult("wasserstein", wd.statistic / scale, config.wasserstein_threshold, False,
                   error_bound=wd.error_bound / scale),
    )  # fmt: skip
    return replace(base, tests=tests)


def _categorical(
    name: str,
    ref: CategoricalProfile,
    cur: CategoricalAccumulator,
    config: DriftConfig,
    judged: bool,
) -> FeatureResult:
    cats = sorted(ref.counts)
    unseen = {c: n for c, n in sorted(cur.counts.items()) if c not in ref.counts}
    cats += list(unseen)
    ref_vec = np.array([ref.counts.get(c, 0) for c in cats], dtype=np.float64)
    cur_vec = np.array([cur.counts.get(c, 0) for c in cats], dtype=np.float64)
    n_cur = cur.n
    base = FeatureResult(
        name=name,
        kind="categorical",
        reference_count=ref.count,
        current_count=n_cur,
        current_missing=cur.missing,
        reference={c: ref.counts.get(c, 0) / ref.count for c in cats},
        current={c: (cur.counts.get(c, 0) / n_cur if n_cur else 0.0) for c in cats},
        unseen=unseen,
        histogram={"categories": cats},
    )
    if not judged:
        return _not_analysed(base, "window too small")
    if n_cur < config.min_window_events:
        return _not_analysed(base, f"{n_cur} valid values, fewer than min_window_events")
    chi = stats.chi2_homogeneity(ref_vec, cur_vec)
    psi = stats.psi(ref_vec, cur_vec, config.psi_smoothing)
    js = stats.js_distance(ref_vec, cur_vec)
    tests = (
        TestResult("chi2", chi.statistic, config.alpha, False, chi.p_value, chi.p_value),
        TestResult("psi", psi.statistic, config.psi_threshold, False,
                   band=stats.psi_band(psi.statistic)),
        TestResult("js", js.statistic, config.js_threshold, False),
    )  # fmt: skip
    return replace(base, tests=tests)


def _apply_verdicts(results: list[FeatureResult], config: DriftConfig) -> tuple[FeatureResult, ...]:
    """Correct the features' p-values together, then give every test and feature a verdict."""
    analysed = [i for i, r in enumerate(results) if r.analysed]
    raw_p = [_first_p(results[i]) for i in analysed]
    adjusted = stats.adjust_pvalues(raw_p, config.correction)
    out = list(results)
    for i, p_adj in zip(analysed, adjusted, strict=True):
        significant = bool(p_adj < config.alpha)
        # chi2 has no effect size of its own: its verdict is its significance, and the
        # feature needs that AND a passing PSI or JS, like KS needs one of its effects.
        tests = tuple(
            replace(
                t,
                p_value=float(p_adj),
                verdict=significant and (t.name == "chi2" or t.statistic >= t.threshold),
            )
            for t in results[i].tests
        )
        drift = any(t.verdict for t in tests if t.name != "chi2")
        out[i] = replace(results[i], tests=tests, drift=drift)
    return tuple(out)


def _first_p(result: FeatureResult) -> float:
    p = result.tests[0].p_value_raw
    return 1.0 if p is None else p


def _numeric_histogram(ref: NumericProfile, cur: NumericAccumulator) -> dict[str, object]:
    """Shares of both samples on equal-width display bins over the bulk of both.

    Each fine bin's mass is placed at its exact centre of mass (sum / count), so the
    picture is faithful to within one fine bin.
    """
    cur_cdf = np.cumsum(cur.counts) / max(cur.n, 1)
    last = ref.edges.size - 1
    cur_lo = ref.edges[min(int(np.searchsorted(cur_cdf, 0.005)), last)]
    cur_hi = ref.edges[min(int(np.searchsorted(cur_cdf, 0.995)), last)]
    lo = float(max(min(ref.edges[0], cur_lo), min(ref.minimum, cur.minimum)))
    hi = float(min(max(ref.edges[-1], cur_hi), max(ref.maximum, cur.maximum)))
    if np.all(ref.edges == np.round(ref.edges)):
        # integer-valued feature: whole-number bins centred on the values, no comb pattern
        width = max(1.0, float(np.ceil((hi - lo + 1) / DISPLAY_BINS)))
        count = int(np.ceil((hi - lo + 1) / width))
        display = np.floor(lo) - 0.5 + width * np.arange(count + 1)
    else:
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        display = np.linspace(lo, hi, DISPLAY_BINS + 1)
    bins = display.size - 1

    def shares(counts: np.ndarray, sums: np.ndarray) -> list[float]:
        centre = np.where(counts > 0, sums / np.maximum(counts, 1), display[0])
        idx = np.clip(np.searchsorted(display, centre, side="right") - 1, 0, bins - 1)
        hist = np.bincount(idx, weights=counts, minlength=bins)
        total = hist.sum()
        return [float(v) for v in (hist / total if total else hist)]

    return {
        "edges": [float(v) for v in display],
        "reference": shares(ref.counts.astype(np.float64), ref.sums),
        "current": shares(cur.counts.astype(np.float64), cur.sums),
    }
