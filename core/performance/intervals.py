"""Analytic confidence intervals for a window's metric, from bounded state.

A bootstrap would need the window's pairs, which the bounded state does not keep; these
need only counts (Wilson) or the AUC and its DeLong variance.

* Wilson's score interval for a proportion keeps close to its nominal coverage down
  to a few dozen trials and never leaves [0, 1], unlike the Wald interval.
* For the AUC, the normal interval is built on the logit scale, logit(A) ± z·se/(A(1-A))
  (delta method), and mapped back: it stays inside (0, 1) and is asymmetric near the
  bounds, where the AUC's sampling distribution is.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: 2.576 at 0.99."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of successes / trials.

    >>> lo, hi = wilson(160, 200, 0.99)
    >>> round(lo, 3), round(hi, 3)
    (0.718, 0.863)
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials and trials > 0")
    z = z_value(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_interval(auc: float, variance: float, confidence: float) -> tuple[float, float]:
    """Normal interval of an AUC on the logit scale; a point when AUC is 0 or 1.

    >>> lo, hi = auc_interval(0.83, 0.02**2, 0.95)
    >>> round(lo, 3), round(hi, 3)
    (0.787, 0.866)
    """
    if not 0 <= auc <= 1 or variance < 0:
        raise ValueError("need 0 <= auc <= 1 and variance >= 0")
    if auc in (0.0, 1.0):
        return auc, auc
    z = z_value(confidence)
    logit = math.log(auc / (1 - auc))
    half = z * math.sqrt(variance) / (auc * (1 - auc))
    return _expit(logit - half), _expit(logit + half)


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))
