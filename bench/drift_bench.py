"""Drift engine per-window evaluation vs Evidently's DataDriftPreset, side by side.

    python bench/drift_bench.py              # speed and verdicts, 10k and 1M row windows
    python bench/drift_bench.py --null       # null-test false-alarm rates by window size

The engine's time is what the drift watcher pays per window: accumulating the window
(`WindowState.update`, here in one call) and judging it (`evaluate`). The reference
profile is built once at model registration and is timed separately. Evidently gets the
same reference rows (as a DataFrame: it has no profile) and the same window. Both see
the five churn features; each scenario runs once stable and once with monthly_charges
scaled by 1.2 and the contract mix shifted.

Evidently 0.7 does not import under pandas 3 (the project's pandas), so it runs from a
separate virtualenv with pandas 2: see docs/drift.md for the exact commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.drift.config import DriftConfig
from core.drift.evaluate import evaluate
from core.drift.profile import ReferenceProfile
from core.drift.window_state import WindowState

NUMERIC = ["age", "tenure_months", "monthly_charges", "total_charges"]
CATEGORICAL = ["contract_type"]
CONTRACTS = np.array(["month-to-month", "one_year", "two_year"], dtype=object)


def churn(rng: np.random.Generator, n: int, *, shifted: bool = False) -> pd.DataFrame:
    tenure = rng.integers(0, 72, n)
    monthly = rng.gamma(4.0, 18.0, n) * (1.2 if shifted else 1.0)
    mix = [0.7, 0.18, 0.12] if shifted else [0.55, 0.25, 0.2]
    return pd.DataFrame(
        {
            "age": rng.normal(45, 14, n).clip(18, 90).round().astype(np.int64),
            "tenure_months": tenure,
            "monthly_charges": monthly.round(2),
            "total_charges": (monthly * tenure * rng.uniform(0.9, 1.1, n)).round(2),
            "contract_type": CONTRACTS[rng.choice(3, n, p=mix)],
        }
    )


def engine(profile: ReferenceProfile, window: pd.DataFrame) -> tuple[float, list[str]]:
    config = DriftConfig()
    start = time.perf_counter()
    state = WindowState.empty(profile).update(window)
    report = evaluate(profile, state, config)
    return time.perf_counter() - start, report.drifting_features


def evidently_run(reference: pd.DataFrame, window: pd.DataFrame) -> tuple[float, list[str]]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(window, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    elapsed = time.perf_counter() - start
    return elapsed, _evidently_drifting(snapshot.dict())


def _evidently_drifting(result: dict[str, Any]) -> list[str]:
    """Columns whose ValueDrift score crossed Evidently's own threshold."""
    drifting = []
    for metric in result["metrics"]:
        name = str(metric.get("metric_name", ""))
        if not name.startswith("ValueDrift("):
            continue
        column = name.split("column=")[1].split(",")[0].rstrip(")")
        config = metric.get("config", {})
        method = str(config.get("method", ""))
        threshold = float(config.get("threshold", 0.1))
        score = float(metric["value"])
        # p-value methods drift below the threshold, distance methods above it
        is_pvalue = "p_value" in method or "test" in method.lower()
        if (score < threshold) if is_pvalue else (score >= threshold):
            drifting.append(column)
    return drifting


def bench(sizes: list[int], repeats: int, reference_rows: int) -> None:
    rng = np.random.default_rng(42)
    reference = churn(rng, reference_rows)
    t0 = time.perf_counter()
    profile = ReferenceProfile.from_frame(reference, NUMERIC, CATEGORICAL)
    profile_s = time.perf_counter() - t0
    try:
        import evidently

        version = evidently.__version__
    except ImportError as exc:
        version = ""
        print(f"evidently unavailable ({exc}); engine timings only", file=sys.stderr)
    print(f"reference: {reference_rows:,} rows x 5 features; profile built in {profile_s:.2f} s")
    print(f"evidently {version or 'n/a'}, pandas {pd.__version__}, numpy {np.__version__}\n")
    header = (
        "| window rows | data | engine s | evidently s | speed-up | engine drifting | "
        "evidently drifting |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(7)) + "|")
    for size in sizes:
        for shifted in (False, True):
            window = churn(rng, size, shifted=shifted)
            runs = [engine(profile, window) for _ in range(repeats)]
            e_time, e_drift = min(r[0] for r in runs), runs[0][1]
            if version:
                ev_runs = [
                    evidently_run(reference, window) for _ in range(repeats if size < 10**6 else 1)
                ]
                v_time, v_drift = min(r[0] for r in ev_runs), ev_runs[0][1]
                ratio = f"{v_time / e_time:,.0f}x"
                v_cells = f"{v_time:.3f} | {ratio} | {', '.join(e_drift) or '-'} | "
                v_cells += f"{', '.join(v_drift) or '-'}"
            else:
                v_cells = f"n/a | n/a | {', '.join(e_drift) or '-'} | n/a"
            label = "shifted" if shifted else "stable"
            print(f"| {size:,} | {label} | {e_time:.3f} | {v_cells} |", flush=True)


def null_rates(sizes: list[int], reps: int, alpha: float) -> None:
    """Windows from the reference itself (resampled rows) and from its distribution (fresh
    draws): how often does anything alarm, with the tests alone and with the defaults?"""
    rng = np.random.default_rng(7)
    reference = churn(rng, 20_000)
    profile = ReferenceProfile.from_frame(reference, NUMERIC, CATEGORICAL)
    defaults = DriftConfig(alpha=alpha, min_window_events=100)
    bare = DriftConfig(
        alpha=alpha, min_window_events=100, ks_threshold=1e-9, psi_threshold=1e-9,
        wasserstein_threshold=1e-9, js_threshold=1e-9,
    )  # fmt: skip
    print(f"reference 20,000 rows; alpha {alpha}; {reps} windows per size and kind\n")
    print(
        "| window events | windows | resampled: tests alone | resampled: defaults "
        "| fresh draws: tests alone | fresh draws: defaults |"
    )
    print("|---|---|---|---|---|---|")
    for size in sizes:
        n = reps if size < 100_000 else max(reps // 4, 1)
        cells = []
        for resample in (True, False):
            hits_bare = hits_default = 0
            for _ in range(n):
                if resample:
                    rows = reference.iloc[rng.integers(0, len(reference), size)]
                else:
                    rows = churn(rng, size)
                state = WindowState.empty(profile).update(rows)
                hits_bare += evaluate(profile, state, bare).drift_detected
                hits_default += evaluate(profile, state, defaults).drift_detected
            cells += [f"{hits_bare / n:.4f}", f"{hits_default / n:.4f}"]
        print(f"| {size:,} | {n:,} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--null", action="store_true", help="null-test alarm rates instead")
    parser.add_argument("--reps", type=int, default=1000, help="windows per size for --null")
    parser.add_argument("--alpha", type=float, default=0.01)
    args = parser.parse_args()
    if args.null:
        null_rates([100, 1_000, 10_000, 100_000], args.reps, args.alpha)
    else:
        bench(args.sizes, args.repeats, args.reference_rows)


if __name__ == "__main__":
    main()
