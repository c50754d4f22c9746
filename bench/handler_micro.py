"""CPU cost of `ScoringHandler.process` alone, per event, without Kafka.

Splits the scorer's end-to-end figure into what the handler costs (validation, model,
formatting) and what is left for the transport. Runs the handler on stub records of a
generated batch (3 % invalid), with the model served through a real follower of a
temporary registry:

    python bench/handler_micro.py [--batch 2000] [--model logistic] [--repeat 7]

The outputs of the last two batches are kept alive, as the processor keeps them until
their commit, so the mean includes the garbage collections they cause.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from traffic import generate

from consumers.scorer import ScorerMetrics, ScoringHandler
from core.follower import ProductionFollower
from core.records import OutRecord
from core.registry import ModelRegistry
from core.scoring import LoadedModel
from core.settings import Settings
from tests.models import train_and_register
from tests.stubs import StubRecord


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--model", default="logistic")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    registry = ModelRegistry(Path(tempfile.mkdtemp(prefix="handler-micro-")))
    train_and_register(registry, seed=42, rows=20_000, kind=args.model)
    follower = ProductionFollower(registry, "churn", LoadedModel.load)
    follower.refresh(force=True)
    records = [
        StubRecord("customer-events", 0, i, m.value, m.key)
        for i, m in enumerate(generate(args.batch, seed=42, invalid_rate=0.03))
    ]
    handler = ScoringHandler(Settings(), follower, ScorerMetrics(CollectorRegistry()))
    alive: list[list[OutRecord]] = []
    seconds: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        alive.append(handler.process(records))
        seconds.append(time.perf_counter() - started)
        if len(alive) > 2:  # a batch's outputs live until it commits, one more overlapped
            alive.pop(0)
    per_event = [s / args.batch * 1e6 for s in seconds]
    print(
        f"ScoringHandler.process, {args.batch:,}-record batches, {args.model}: "
        f"best of {args.repeat}: {min(per_event):.1f}, mean {statistics.mean(per_event):.1f} "
        "microseconds per event (the mean counts the garbage collections the best hides)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
