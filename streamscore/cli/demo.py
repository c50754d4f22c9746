"""`streamscore demo`: the whole product, end to end, on the local broker."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from streamscore.cli.runtime import settings_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the end-to-end demo on the local broker",
        description=(
            "Start the local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set), train "
            "and promote a churn model, run a scorer, a drift watcher and the retrainer, "
            "publish a stream with outcomes and bad events, then a drift: the alert fires, "
            "the retrainer reads the labelled events back, gates and promotes a "
            "challenger, and the scorer switches to it. Shows predictions, dead letters, "
            "the alert and the retrain decision: as a live view on a terminal, as a "
            "progress line every two seconds elsewhere."
        ),
    )
    parser.add_argument("--events", type=int, default=20_000, help="events to publish (20000)")
    parser.add_argument(
        "--rate", type=float, default=5000.0, help="events per second (default 5000; 0: max)"
    )
    parser.add_argument("--keep-broker", action="store_true", help="leave the broker running")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument(
        "--frame",
        type=Path,
        metavar="FILE",
        help="also write one frame of the live view, as text, to FILE",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.events < 2:
        print("streamscore demo: error: --events must be at least 2", file=sys.stderr)
        return 2
    if args.frame is not None and not args.frame.parent.is_dir():
        print(f"streamscore demo: error: --frame: no folder {args.frame.parent}", file=sys.stderr)
        return 2
    from streamscore.demo import run_demo

    settings = settings_for(args, "demo")
    result = run_demo(
        settings,
        events=args.events,
        rate=args.rate or None,
        keep_broker=args.keep_broker,
        out=None if args.json else sys.stdout,
        frame=args.frame,
    )
    if args.json:
        print(json.dumps(dataclasses.asdict(result), default=str))
    return 0 if result.predictions > 0 else 1
