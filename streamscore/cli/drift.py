"""`streamscore drift compare|run`.

`compare` runs the streaming drift engine offline on two files, exactly (KS and
Wasserstein on the raw values): a human summary by default, `--json` for scripts (one
JSON document on stdout), `--html OUT` for a self-contained page to look at.
`--fail-on-drift` makes drift exit 3, so the command can gate a pipeline.

`run` is the Kafka drift watcher (`consumers/drift.py`): it runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import StreamscoreError
from streamscore.cli.runtime import settings_for

if TYPE_CHECKING:
    from core.drift.report import DriftReport

EXIT_DRIFT = 3


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "drift",
        help="compare feature distributions; watch the event stream for drift",
        description=(
            "Feature drift against a reference. A feature drifts when its test (KS for "
            "numeric, chi-squared for categorical) is significant after correcting across "
            "features AND an effect size (KS statistic, PSI, normalised Wasserstein, "
            "Jensen-Shannon distance) reaches its threshold; see docs/drift.md. "
            "Thresholds come from the drift settings (STREAMSCORE_DRIFT__*)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    compare = actions.add_parser(
        "compare",
        help="compare a current sample with a reference sample (CSV or JSON lines)",
        description=(
            "Compare two CSV or JSON-lines files with the drift engine. Without --features "
            "every shared column is compared; numeric columns are numeric features, the "
            "rest categorical."
        ),
    )
    compare.add_argument("--reference", required=True, metavar="FILE", help="reference sample")
    compare.add_argument("--current", required=True, metavar="FILE", help="current sample")
    compare.add_argument("--features", nargs="+", metavar="NAME", help="columns to compare")
    compare.add_argument(
        "--categorical", nargs="+", default=[], metavar="NAME",
        help="treat these numeric columns as categorical (e.g. integer codes)",
    )  # fmt: skip
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    compare.add_argument("--html", metavar="OUT", help="write a self-contained HTML report")
    compare.add_argument(
        "--fail-on-drift", action="store_true", help=f"exit {EXIT_DRIFT} when drift is found"
    )
    compare.set_defaults(func=_compare)

    run = actions.add_parser(
        "run",
        help="watch the event stream for drift (runs until SIGTERM)",
        description=(
            "Read the events topic in the drift group, fill event-time windows "
            "(drift.window_seconds; or count windows of drift.window_events), judge each "
            "closed window against the production model's reference profile and publish "
            "alerts (M of the last N windows drifting, then a cooldown) with an HTML "
            "report under <state_dir>/reports. "
            "Window state is checkpointed with every batch's offsets: restarts lose and "
            "repeat nothing. /health and /metrics on drift.http_port."
        ),
    )
    run.add_argument("--port", type=int, help="/health and /metrics port (0: any free one)")
    run.set_defaults(func=_run)


def _compare(args: argparse.Namespace) -> int:
    from core.drift.evaluate import compare_frames
    from core.drift.frames import read_frame, split_kinds
    from core.drift.html import render_html

    settings = settings_for(args, "drift")
    reference = read_frame(args.reference)
    current = read_frame(args.current)
    numeric, categorical = split_kinds(reference, current, args.features, args.categorical)
    report = compare_frames(reference, current, numeric, categorical, settings.drift)
    if args.html:
        out = Path(args.html)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                render_html(
                    report,
                    reference_label=Path(args.reference).name,
                    current_label=Path(args.current).name,
                ),
                encoding="utf-8",
            )
        except OSError as exc:
            raise StreamscoreError(
                f"cannot write {out}: {exc.strerror}", hint="choose a writable --html path"
            ) from None
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(summary(report))
        if args.html:
            print(f"HTML report: {args.html}")
    return EXIT_DRIFT if args.fail_on_drift and report.drift_detected else 0


def summary(report: DriftReport) -> str:
    """A short table for a terminal: the overall verdict first, then one line per feature."""
    from core.drift.html import fmt

    if not report.judged:
        head = f"NOT JUDGED: {report.note}"
    elif report.drift_detected:
        head = f"DRIFT in {len(report.drifting_features)} of {report.features_analysed} "
        head += f"features: {', '.join(report.drifting_features)}"
    else:
        head = f"no drift in {report.features_analysed} features"
    lines = [
        head,
        f"reference {report.reference_rows:,} rows, current {report.current_rows:,} rows, "
        f"alpha {report.alpha} ({report.correction})",
        "",
        f"{'feature':<20} {'verdict':<13} {'adj. p':>10}  effect sizes",
    ]
    for f in report.features:
        verdict = "not analysed" if not f.analysed else ("DRIFT" if f.drift else "stable")
        p = fmt(f.tests[0].p_value) if f.tests else "–"
        effects = "  ".join(
            f"{t.name}={fmt(t.statistic)}{'*' if t.verdict else ''}"
            for t in f.tests
            if t.name != "chi2"
        )
        lines.append(f"{f.name:<20} {verdict:<13} {p:>10}  {effects}")
    lines.append("")
    lines.append("* effect size at or above its threshold with a significant test")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from consumers.drift import run_drift
    from core.shutdown import stop_on_signals

    settings = settings_for(args, "drift", logs_to_stdout=True)
    if args.port is not None:
        settings.drift.http_port = args.port
    run_drift(settings, stop_on_signals())
    return 0
