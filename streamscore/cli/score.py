"""`streamscore score`: run a scoring consumer until SIGTERM."""

from __future__ import annotations

import argparse

from core.settings_defaults import DELIVERIES, SCORER_BATCH_SIZE, SCORER_DELIVERY
from streamscore.cli.runtime import overridden, settings_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "score",
        help="score customer events with the production model (runs until SIGTERM)",
        description=(
            "Consume the events topic in the scorer group, validate each event, score "
            "micro-batches with the registry's production model and publish predictions "
            "and structured logs; invalid events go to the dead-letter topic with their "
            "reason. Exactly-once by default (Kafka transactions). Without a production "
            "model the scorer pauses its input and reports 'degraded' on /health until one "
            "is promoted; promotions are picked up between batches without a restart. "
            "SIGTERM finishes the batch in hand and exits 0."
        ),
    )
    parser.add_argument(
        "--batch-size", type=int, help=f"largest micro-batch (default {SCORER_BATCH_SIZE})"
    )
    parser.add_argument(
        "--delivery",
        choices=DELIVERIES,
        help=f"delivery guarantee (default {SCORER_DELIVERY})",
    )
    parser.add_argument("--port", type=int, help="/health and /metrics port (0: any free one)")
    parser.add_argument(
        "--instance-id", help="stable replica name; restarts then fence their predecessor at once"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from consumers.scorer import run_scorer
    from core.shutdown import stop_on_signals

    settings = settings_for(args, "scorer", logs_to_stdout=True)
    settings.scorer = overridden(
        settings.scorer,
        {"http_port": "--port"},
        batch_size=args.batch_size,
        delivery=args.delivery,
        http_port=args.port,
        instance_id=args.instance_id,
    )
    run_scorer(settings, stop_on_signals())
    return 0
