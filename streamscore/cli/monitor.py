"""`streamscore monitor`: run the performance monitor until SIGTERM."""

from __future__ import annotations

import argparse

from core.settings_defaults import (
    MONITOR_FLOOR,
    MONITOR_LABEL_DELAY_S,
    MONITOR_MARGIN,
    MONITOR_METRIC,
    MONITOR_WINDOW_SECONDS,
)
from streamscore.cli.runtime import overridden, settings_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "monitor",
        help="live model quality from labelled outcomes, with alerts (runs until SIGTERM)",
        description=(
            "Join the predictions topic with the outcomes topic on event_id (either may "
            "come first; a prediction waits monitor.label_delay_s for its label, then counts "
            "unlabelled), and judge each model version over tumbling event-time windows "
            "(Kafka record timestamps): ROC AUC, accuracy, log loss, Brier score, positive "
            "against predicted rate, label coverage and a calibration table. Each closed "
            "window is a record on model-performance; an alert goes to performance-alerts "
            "when the judged metric's confidence interval lies wholly below the floor or "
            "below the version's holdout figure minus the margin in M of the last N "
            "windows. This catches concept drift, which the feature drift watcher cannot "
            "see. State is checkpointed with the offsets in each batch's transaction, so "
            "a kill and restart changes no figure. Both input topics must have the same "
            "partition count. SIGTERM finishes the batch in hand and exits 0."
        ),
    )
    parser.add_argument(
        "--metric",
        choices=["roc_auc", "accuracy"],
        help=f"the judged metric (default {MONITOR_METRIC})",
    )
    parser.add_argument(
        "--floor", type=float, help=f"absolute floor of the metric (default {MONITOR_FLOOR})"
    )
    parser.add_argument(
        "--margin",
        type=float,
        help=f"allowed drop below the version's holdout figure (default {MONITOR_MARGIN})",
    )
    parser.add_argument(
        "--window-seconds",
        type=float,
        help=f"event-time window size (default {MONITOR_WINDOW_SECONDS:g})",
    )
    parser.add_argument(
        "--label-delay",
        type=float,
        dest="label_delay_s",
        metavar="SECONDS",
        help=f"how long a prediction waits for its outcome (default {MONITOR_LABEL_DELAY_S:g})",
    )
    parser.add_argument("--port", type=int, help="/health and /metrics port (0: any free one)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from consumers.performance import run_monitor
    from core.shutdown import stop_on_signals

    settings = settings_for(args, "monitor", logs_to_stdout=True)
    settings.monitor = overridden(
        settings.monitor,
        {"http_port": "--port", "label_delay_s": "--label-delay"},
        metric=args.metric,
        floor=args.floor,
        margin=args.margin,
        window_seconds=args.window_seconds,
        label_delay_s=args.label_delay_s,
        http_port=args.port,
    )
    run_monitor(settings, stop_on_signals())
    return 0
