"""The statistics: two-sample tests and effect sizes, on raw samples or on shared bins.

Each function is pure and works on numpy arrays. Where the engine has both raw samples
it calls scipy directly (``ks_2samp``, ``wasserstein_distance``), so results agree with
scipy to floating-point precision. Where it works on counts over the reference's fine
quantile bins (the windowed path) it computes the same quantities from the bins and
returns a bound on the error alongside:

* KS: both CDFs are known exactly at every bin edge, so the binned statistic D_b is a
  lower bound and the true statistic lies in [D_b, D_b + max_k max(p_ref_k, p_cur_k)],
  the largest mass either sample puts in one fine bin (about 1/1,000 for the reference).
  The p-value uses scipy's asymptotic two-sample formula ``kstwo.sf(D, round(nm/(n+m)))``
  on D_b, so it is never smaller than the one the true D would give: conservative.
* Wasserstein-1: with per-bin sums, the integral of F_ref - F_cur over each bin is exact;
  summing absolute values per bin is exact wherever the CDFs do not cross inside a bin.
  The bound adds, for bins where they may cross, bin width times the bin masses.
* Chi-squared, PSI and Jensen-Shannon work on counts anyway, so they are exact.

The reference is a sample too, so the categorical test is a two-sample (homogeneity)
chi-squared test rather than a goodness-of-fit test against fixed reference shares: a
goodness-of-fit test would alarm on the reference's own sampling noise once windows grow
larger than the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

FloatArray = npt.NDArray[np.float64]
Correction = Literal["bh", "bonferroni"]


@dataclass(frozen=True)
class Estimate:
    """A statistic with its p-value (None for pure effect sizes) and error bound."""

    statistic: float
    p_value: float | None = None
    error_bound: float = 0.0


def ks_pvalue(d: float, n: int, m: int) -> float:
    """scipy's asymptotic two-sided two-sample KS p-value for statistic ``d``."""
    en = n * m / (n + m)
    return float(np.clip(sps.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_raw(reference: FloatArray, current: FloatArray) -> Estimate:
    """Exact two-sample KS: scipy's ``ks_2samp`` with its default method."""
    res = sps.ks_2samp(reference, current)
    return Estimate(float(res.statistic), float(res.pvalue))


def ks_binned(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Estimate:
    """KS from counts on shared bins: statistic at the edges, p-value, and error bound.

    >>> est = ks_binned([50, 50, 0], [0, 50, 50])
    >>> est.statistic, round(est.error_bound, 2)
    (0.5, 0.5)
    """
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    n, m = int(r.sum()), int(c.sum())
    pr, pc = r / n, c / m
    d = float(np.max(np.abs(np.cumsum(pr) - np.cumsum(pc))))
    bound = float(np.max(np.maximum(pr, pc)))
    return Estimate(d, ks_pvalue(d, n, m), min(bound, 1.0 - d))


def wasserstein_raw(reference: FloatArray, current: FloatArray) -> Estimate:
    """Exact Wasserstein-1 distance (scipy), in the feature's units."""
    return Estimate(float(sps.wasserstein_distance(reference, current)))


def wasserstein_binned(
    edges: FloatArray,
    ref_counts: FloatArray,
    ref_sums: FloatArray,
    cur_counts: FloatArray,
    cur_sums: FloatArray,
    lo: float,
    hi: float,
) -> Estimate:
    """Wasserstein-1 from per-bin counts and sums; ``lo``/``hi`` bound both samples.

    Over a bin (a, b], the integral of an empirical CDF is ``b F(b) - a F(a) - S/n`` with
    S the sum of the values in the bin, so the integral of F_ref - F_cur per bin is exact.
    """
    n, m = float(ref_counts.sum()), float(cur_counts.sum())
    left = np.concatenate(([lo], edges))
    right = np.concatenate((edges, [hi]))
    cdf_r = np.cumsum(ref_counts) / n
    cdf_c = np.cumsum(cur_counts) / m
    g_right = cdf_r - cdf_c
    g_left = np.concatenate(([0.0], g_right[:-1]))
    per_bin = right * g_right - left * g_left - (ref_sums / n - cur_sums / m)
    w = float(np.abs(per_bin).sum())
    osc = ref_counts / n + cur_counts / m
    # g = F_ref - F_cur moves by at most `osc` inside a bin, so it can only change sign
    # there when both edge values are within `osc` of zero.
    may_cross = np.maximum(np.abs(g_left), np.abs(g_right)) <= osc
    width = np.maximum(right - left, 0.0)
    bound = float(np.sum(np.where(may_cross & (osc > 0), width * osc, 0.0)))
    return Estimate(w, None, bound)


def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, smoothing: float) -> Estimate:
    """Population Stability Index with ``smoothing`` pseudo-counts added to every bin.

    The pseudo-counts keep empty bins finite (no log of zero, no division by zero) and
    shrink the noise of small windows toward zero rather than toward infinity.

    >>> round(psi([100, 100], [100, 100], 0.5).statistic, 6)
    0.0
    """
    r = np.asarray(ref_counts, dtype=np.float64) + smoothing
    c = np.asarray(cur_counts, dtype=np.float64) + smoothing
    pr, pc = r / r.sum(), c / c.sum()
    return Estimate(float(np.sum((pc - pr) * np.log(pc / pr))))


def psi_band(value: float) -> Literal["none", "moderate", "significant"]:
    """The usual PSI reading: < 0.1 none, 0.1-0.2 moderate, > 0.2 significant."""
    if value < 0.1:
        return "none"
    return "moderate" if value <= 0.2 else "significant"


def chi2_homogeneity(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Estimate:
    """Two-sample chi-squared test that both count vectors share one distribution.

    Equal to ``scipy.stats.chi2_contingency([ref, cur], correction=False)`` and, written
    as a goodness-of-fit over the 2×K cells, to ``scipy.stats.chisquare(obs, exp, ddof=K)``.
    Categories absent from both samples are dropped; one category left means no test.
    """
    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    k = table.shape[1]
    if k < 2 or (table.sum(axis=1) == 0).any():
        return Estimate(0.0, 1.0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return Estimate(stat, float(sps.chi2.sf(stat, k - 1)))


def js_distance(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> Estimate:
    """Jensen-Shannon distance in base 2 (0 identical, 1 disjoint); scipy's definition."""
    p = np.asarray(ref_counts, dtype=np.float64)
    q = np.asarray(cur_counts, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0).sum()
    return Estimate(float(np.sqrt(max((kl_p + kl_q) / 2, 0.0))))


def adjust_pvalues(p_values: npt.ArrayLike, method: Correction) -> FloatArray:
    """Family-wise (Bonferroni) or false-discovery-rate (Benjamini-Hochberg) adjustment.

    Compare the adjusted values with alpha. Under the global null (nothing drifts) both
    keep the chance of any false alarm in a window at or below alpha.

    >>> adjust_pvalues([0.01, 0.04, 0.03], "bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    >>> adjust_pvalues([0.01, 0.04, 0.03], "bonferroni").round(3).tolist()
    [0.03, 0.12, 0.09]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(ranked, 1.0)
    return out
