"""Pipeline (b): streamscore's own scorer, `consumers.scorer.run_scorer`, in its own process.

The same function `streamscore score` runs, with the benchmark's settings; stops on
SIGTERM after the batch in hand. `--patch NAMES` first applies experimental changes of
`scorer_patches.py` (comma-separated; proposals for core/, measured here before anyone
edits core/); `--profile OUT` writes a cProfile of the whole run, `--trace OUT` the
per-batch timings of `batch_trace.py`.

    python bench/scorer_process.py SETTINGS.json [--patch A,B] [--profile P] [--trace T]
"""

from __future__ import annotations

import argparse
import cProfile
from pathlib import Path

import batch_trace
from bench_settings import read_settings
from scorer_patches import apply, parse_patches

from consumers.scorer import run_scorer
from core.logging import configure_logging
from core.shutdown import stop_on_signals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("settings")
    parser.add_argument("--patch", type=parse_patches, default=[])
    parser.add_argument("--profile")
    parser.add_argument("--trace", type=Path)
    args = parser.parse_args()
    settings = read_settings(args.settings)
    configure_logging("scorer", level="warning", fmt="json")
    settings = apply(args.patch, settings)
    if args.trace is not None:
        batch_trace.install(args.trace)
    stop = stop_on_signals()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            run_scorer(settings, stop)
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
    else:
        run_scorer(settings, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
