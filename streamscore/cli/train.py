"""`streamscore train`: the initial churn model, registered with its profile and promoted.

Training data is `ChurnGenerator(seed).reference(n)`, the same seeded world the event
producer draws from, so the registered holdout metrics describe the stream the scorer
will see. Progress is a tqdm bar on a terminal and plain lines otherwise (CI logs);
both go to stderr, the result to stdout (a summary, or one JSON document with --json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from core.errors import StreamscoreError
from core.model_kinds import DEFAULT_KIND, MODEL_KINDS
from streamscore.cli.runtime import registry_for, settings_for, told


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "train",
        help="train the churn model on generated reference data and register it",
        description=(
            "Train the churn Pipeline (scaling + one-hot contract_type + estimator) on "
            "generated reference data, evaluate it on a stratified holdout (accuracy, F1, "
            "ROC AUC), register it with its reference profile and promote it to production."
        ),
    )
    parser.add_argument("--n-samples", type=int, default=20_000, help="rows (default 20000)")
    parser.add_argument("--seed", type=int, default=42, help="data and model seed (default 42)")
    parser.add_argument(
        "--model",
        choices=MODEL_KINDS,
        default=DEFAULT_KIND,
        help=(
            f"estimator (default {DEFAULT_KIND}: the most accurate on this data and the "
            "fastest to serve; forest is the 100-tree random forest)"
        ),
    )
    parser.add_argument("--test-size", type=float, default=0.25, help="holdout share")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help=(
            "decision threshold recorded with the version: `prediction` is 1 when the "
            "churn probability reaches it (default 0.5); holdout accuracy and F1 use it"
        ),
    )
    parser.add_argument(
        "--name", help="registered model name (default settings.registry.model_name)"
    )
    parser.add_argument("--registry", metavar="PATH", help="registry folder (overrides settings)")
    parser.add_argument("--reason", default="", help="promotion reason recorded in the history")
    parser.add_argument("--no-promote", action="store_true", help="register only")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_run)


class StepProgress:
    """Named steps as a tqdm bar on a terminal, else one plain line per step."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        stream = stream if stream is not None else sys.stderr  # looked up late: tests swap it
        self._stream = stream
        self._bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, file=stream, desc="train", unit="step")
        self._total = total
        self._done = 0

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text)
        else:
            print(f"train: [{self._done + 1}/{self._total}] {text}", file=self._stream, flush=True)

    def done(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _run(args: argparse.Namespace) -> int:
    if args.n_samples < 100:
        raise StreamscoreError(
            f"--n-samples {args.n_samples} is too small", hint="use at least 100 rows"
        )
    if not 0.0 < args.threshold < 1.0:
        raise StreamscoreError(
            f"--threshold {args.threshold} is not a probability", hint="use a value in (0, 1)"
        )

    from core import promotion
    from core.kafka.model_events import announcer
    from core.training import train_and_evaluate
    from producers.generator import ChurnGenerator

    settings = settings_for(args, "train")
    registry = registry_for(args, settings)
    name = args.name or settings.registry.model_name
    promote = not args.no_promote
    progress = StepProgress(total=4 if promote else 3)
    try:
        progress.step(f"generating {args.n_samples:,} reference rows (seed {args.seed})")
        frame = ChurnGenerator(seed=args.seed).reference(args.n_samples)
        progress.done()

        progress.step(f"fitting {args.model} and scoring the {args.test_size:.0%} holdout")
        started = time.perf_counter()
        result = train_and_evaluate(
            frame, args.model, args.seed, test_size=args.test_size, threshold=args.threshold
        )
        progress.done()

        parent = registry.production_version(name)
        progress.step(f"registering {name} in {registry.root}")
        version = result.register(
            registry,
            name,
            {
                "model_kind": args.model,
                "n_samples": args.n_samples,
                "seed": args.seed,
                "data": "producers.generator.ChurnGenerator.reference",
                "command": "streamscore train",
                "train_seconds": round(time.perf_counter() - started, 3),
            },
            parent_version=parent,
            trigger="initial" if parent is None else "manual",
        )
        progress.done()

        if promote:
            progress.step(f"promoting version {version.version} to production")
            reason = args.reason or f"streamscore train --model {args.model}"
            done = promotion.promote(
                registry, name, version.version, reason=reason, announce=announcer(settings)
            )
            version = done.version
            told(done)
            progress.done()
    finally:
        progress.close()

    if args.json:
        print(json.dumps(version.model_dump(mode="json"), indent=2))
    else:
        metrics = "  ".join(f"{k} {version.metrics[k]:.3f}" for k in ("roc_auc", "accuracy", "f1"))
        stage = "production" if promote else "not promoted (--no-promote)"
        print(f"{name} version {version.version} ({args.model}): {metrics}; {stage}")
    return 0
