"""CPU cost of `ScoringHandler.process` alone, per event, without Kafka.

Splits the scorer's end-to-end figure into what the handler costs (validation, model,
formatting) and what is left for the transport. Runs the handler on stub records of a
generated batch (3 % invalid), as it is and with `scorer_patches.py`'s fast-features:

    python bench/handler_micro.py [--batch 2000] [--model logistic] [--repeat 7]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace
from typing import Any

from core.kafka.records import StubRecord
from core.serving import LoadedModel
from prometheus_client import CollectorRegistry
from scorer_patches import PATCHES
from traffic import generate

from consumers.scorer import ScorerMetrics, ScoringHandler
from core.settings import Settings
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--model", default="logistic")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    result = train_and_evaluate(ChurnGenerator(seed=42).reference(20_000), args.model, 42)
    info: Any = SimpleNamespace(name="churn", version=1)
    loaded = LoadedModel(model=result.model, info=info, threshold=0.5)
    slot: Any = SimpleNamespace(current=loaded, refusals=[])
    records = [
        StubRecord("customer-events", 0, i, m.value, m.key)
        for i, m in enumerate(generate(args.batch, seed=42, invalid_rate=0.03))
    ]
    print(
        f"ScoringHandler.process, {args.batch:,}-record batches, {args.model}: "
        f"best of {args.repeat}, microseconds per event"
    )
    for name in ("as is", "fast-features"):
        if name == "fast-features":
            PATCHES["fast-features"](Settings())
        handler = ScoringHandler(Settings(), slot, ScorerMetrics(CollectorRegistry()))
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            handler.process(records)
            best = min(best, time.perf_counter() - started)
        print(f"  {name:<18} {best / args.batch * 1e6:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
