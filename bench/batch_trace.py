"""Where a scorer's wall time goes, batch by batch: consume, handler, commit.

cProfile shows CPU spent in Python; a transactional scorer also waits on the broker, and
those waits are what set its latency. The processor reports each batch's timings to an
observer (`run_scorer(..., on_batch=...)`, `core.kafka.processor.BatchTiming`); `Tracer`
is that observer, and writes the timings as JSON lines at exit.

    python bench/batch_trace.py TRACE.json [--last-seconds 12]   # summary table
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from core.kafka.processor import BatchTiming

_STEPS = ("consume", "process", "commit")


class Tracer:
    """Keeps `[start_s, records, outputs, consume_s, process_s, commit_s, committed]`."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._rows: list[list[float]] = []

    def __call__(self, timing: BatchTiming) -> None:
        self._rows.append(
            [
                time.perf_counter(),
                timing.records,
                timing.outputs,
                timing.consume_s,
                timing.process_s,
                timing.commit_s,
                float(timing.committed),
            ]
        )

    def write(self) -> None:
        self._out.write_text("\n".join(json.dumps(r) for r in self._rows))


def summary(path: Path, last_seconds: float) -> str:
    rows = np.array([json.loads(line) for line in path.read_text().splitlines() if line])
    rows = rows[rows[:, 0] > rows[:, 0].max() - last_seconds]
    lines = [
        f"last {last_seconds:.0f}s of {path.name}: {len(rows)} batches, "
        f"records p50 {np.median(rows[:, 1]):.0f}, {int(len(rows) - rows[:, 6].sum())} aborted",
        "| step | p50 ms | p90 ms | p99 ms | max ms | total s |",
        "|---|---|---|---|---|---|",
    ]
    for i, name in enumerate(_STEPS, start=3):
        ms = rows[:, i] * 1000
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        total = ms.sum() / 1000
        cells = [f"{x:.1f}" for x in (p50, p90, p99, ms.max())]
        lines.append(f"| {name} | {' | '.join(cells)} | {total:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trace", type=Path)
    parser.add_argument("--last-seconds", type=float, default=12.0)
    args = parser.parse_args()
    print(summary(args.trace, args.last_seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
