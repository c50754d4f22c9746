"""`streamscore retrain`: answer drift and performance alerts by retraining (until
SIGTERM), or `--once` retrain now from Kafka data and print the decision."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from streamscore.cli.runtime import settings_for

if TYPE_CHECKING:
    from core.retraining.job import RetrainReport

EXIT_REJECTED = 3
"""`--once` exits with this when the challenger is rejected, so a pipeline can act on it."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "retrain",
        help="retrain on labelled data read back from Kafka when alerts fire (until SIGTERM)",
        description=(
            "Consume the alert topics (retrain.alert_topics; default the drift and "
            "performance alerts) in the retrainer group. For an alert the policy accepts "
            "(severity, not stale, not cooling down), read the lookback of events and "
            "outcomes back from Kafka, train a challenger on the older part, gate it "
            "against the production model on the newest part (floor and paired-bootstrap "
            "non-inferiority), register it with its lineage and promote it (staging, then "
            "production, announced on model-events) or reject it. Each alert gets exactly "
            "one record on retrain-decisions, committed with its offset. /health and "
            "/metrics on retrain.http_port."
        ),
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help=f"retrain now without an alert, print the decision and exit ({EXIT_REJECTED} "
        "when rejected)",
    )
    parser.add_argument("--json", action="store_true", help="with --once: print the decision")
    parser.add_argument("--port", type=int, help="/health and /metrics port (0: any free one)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.once:
        from consumers.retrainer import retrain_once

        settings = settings_for(args, "retrainer")
        report = retrain_once(settings)
        if args.json:
            document = report.decision.model_dump(mode="json") | {"timings": report.timings}
            json.dump(document, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print(summary(report))
        return EXIT_REJECTED if report.decision.outcome == "rejected" else 0

    from consumers.retrainer import run_retrainer
    from core.shutdown import stop_on_signals

    settings = settings_for(args, "retrainer", logs_to_stdout=True)
    if args.port is not None:
        settings.retrain.http_port = args.port
    run_retrainer(settings, stop_on_signals())
    return 0


def summary(report: RetrainReport) -> str:
    """The decision for a person: what happened, the data, both models' figures."""
    d = report.decision
    lines = [f"{d.outcome.upper()}: {d.reason}"]
    if d.data is not None:
        lines.append(
            f"data: {d.data.rows:,} labelled events from "
            f"{d.data.first_event_time:%Y-%m-%d %H:%M:%S} to {d.data.last_event_time:%H:%M:%S} UTC "
            f"({report.events_read:,} events, {report.outcomes_read:,} outcomes read)"
        )
    if d.gate is not None:
        g = d.gate
        lines.append(f"gate on {g.holdout_rows:,} holdout rows (newest), metric {g.metric}:")
        lines.append(f"  {'':<11} {'roc_auc':>8} {'accuracy':>9} {'f1':>7} {'log_loss':>9}")
        for label, m in (("champion", g.champion), ("challenger", g.challenger)):
            if m is not None:
                lines.append(
                    f"  {label:<11} {m['roc_auc']:>8.4f} {m['accuracy']:>9.4f} {m['f1']:>7.4f} "
                    f"{m['log_loss']:>9.4f}"
                )
        if g.interval_low is not None and g.difference is not None:
            lines.append(
                f"  advantage {g.difference:+.4f}, {g.confidence:.0%} lower bound "
                f"{g.interval_low:+.4f} (margin {g.margin}); floor {g.floor}"
            )
    if report.timings:
        lines.append(
            "seconds: "
            + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in report.timings.items())
        )
    return "\n".join(lines)
