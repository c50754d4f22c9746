"""Pipeline (b): streamscore's own scorer, `consumers.scorer.run_scorer`, in its own process.

The same function `streamscore score` runs, with the benchmark's settings (a variant's
`--set` overrides are already in them); stops on SIGTERM after the batch in hand.
`--profile OUT` writes a cProfile of the whole run, `--trace OUT` the per-batch timings
the processor reports (`batch_trace.py`).

    python bench/scorer_process.py SETTINGS.json [--profile P] [--trace T]
"""

from __future__ import annotations

import argparse
import cProfile
from pathlib import Path

from batch_trace import Tracer
from bench_settings import read_settings

from consumers.scorer import run_scorer
from core.logging import configure_logging
from core.shutdown import stop_on_signals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("settings")
    parser.add_argument("--profile")
    parser.add_argument("--trace", type=Path)
    args = parser.parse_args()
    settings = read_settings(args.settings)
    configure_logging("scorer", level="warning", fmt="json")
    tracer = Tracer(args.trace) if args.trace is not None else None
    stop = stop_on_signals()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        run_scorer(settings, stop, on_batch=tracer)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        if tracer is not None:
            tracer.write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
