"""Where a scorer's wall time goes, batch by batch: consume, handler, each transaction call.

cProfile shows CPU spent in Python; a transactional scorer also waits on the broker, and
those waits are what set its latency. `install` wraps the processor's steps and its
producer's transactional calls with timers (inside a bench process only); at exit the
timings are written as JSON lines `[step, start_s, seconds, records]`.

    python bench/batch_trace.py TRACE.json [--last-seconds 12]   # summary table
"""

from __future__ import annotations

import argparse
import atexit
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_TXN_CALLS = frozenset(
    {"begin_transaction", "send_offsets_to_transaction", "commit_transaction", "abort_transaction"}
)


def install(out: Path) -> None:
    from consumers.scorer import ScoringHandler
    from core.kafka.processor import BatchProcessor

    rows: list[tuple[str, float, float, int]] = []

    def timed(name: str, fn: Callable[..., Any], size: Callable[..., int] | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = fn(*args, **kwargs)
            n = size(args, result) if size is not None else 0
            rows.append((name, started, time.perf_counter() - started, n))
            return result

        return wrapper

    class TimedProducer:
        def __init__(self, producer: Any) -> None:
            self._producer = producer

        def __getattr__(self, name: str) -> Any:
            attr = getattr(self._producer, name)
            return timed(name, attr) if name in _TXN_CALLS else attr

    init = BatchProcessor.__init__

    def init_timed(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._producer = TimedProducer(self._producer)

    BatchProcessor.__init__ = init_timed  # type: ignore[method-assign]
    BatchProcessor._consume = timed(  # type: ignore[method-assign]
        "consume", BatchProcessor._consume, lambda a, r: len(r)
    )
    BatchProcessor._produce_all = timed(  # type: ignore[method-assign]
        "produce_all", BatchProcessor._produce_all, lambda a, r: len(a[1])
    )
    ScoringHandler.process = timed(  # type: ignore[method-assign]
        "handler", ScoringHandler.process, lambda a, r: len(a[1])
    )
    atexit.register(lambda: out.write_text("\n".join(json.dumps(r) for r in rows)))


def summary(path: Path, last_seconds: float) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    end = max(r[1] for r in rows)
    rows = [r for r in rows if r[1] > end - last_seconds]
    lines = [
        f"last {last_seconds:.0f}s of {path.name}",
        "| step | calls | p50 ms | p90 ms | p99 ms | max ms | total s | records p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("consume", "handler", "produce_all", *sorted(_TXN_CALLS)):
        ms = np.array([r[2] for r in rows if r[0] == name]) * 1000
        if len(ms) == 0:
            continue
        n = np.array([r[3] for r in rows if r[0] == name])
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        lines.append(
            f"| {name} | {len(ms)} | {p50:.1f} | {p90:.1f} | {p99:.1f} | {ms.max():.1f} "
            f"| {ms.sum() / 1000:.2f} | {np.median(n):.0f} |"
        )
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
