"""`streamscore produce`: seeded churn traffic, or a replayed file, onto the contract topics.

Events go to `topics.events`, their true labels to `topics.outcomes` after
`--outcome-delay` seconds. The run ends with a flush and a report of how many records
were sent, acknowledged and failed; any failure makes the exit status non-zero, so a
script can trust that a zero exit means every record landed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import StreamscoreError
from producers.scenarios import PRESETS
from streamscore.cli.runtime import settings_for

if TYPE_CHECKING:
    from producers.publisher import PublishReport

DEFAULT_N = 10_000
DEFAULT_RATE = 1000.0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class ProduceUsageError(StreamscoreError):
    """Options that do not make sense together."""

    hint = "see `streamscore produce --help`"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "produce",
        help="publish seeded churn events (with drift scenarios) and their outcomes",
        description=(
            "Publish customer events from the seeded churn process to the events topic and "
            "each valid event's true label to the outcomes topic after a delay; or replay a "
            "CSV / JSON-lines file; or, with --dry-run, write the events to a file. Ends "
            "with a count of records sent, acknowledged and failed; exits 1 if any failed."
        ),
        epilog=(
            f"Scenario presets: {', '.join(sorted(PRESETS))}. Add @N to start at event N or "
            "@Ns at N seconds of event time (e.g. concept@5000, charges-up@30s); combine "
            "with commas or repeated --scenario; or name a TOML/JSON scenario file. "
            "See docs/producers.md."
        ),
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--n", type=_positive_int, help=f"events to send (default {DEFAULT_N})")
    size.add_argument("--duration", type=_positive_float, metavar="S", help="send for S seconds")
    size.add_argument(
        "--replay", type=Path, metavar="FILE", help="send the events of a .csv/.jsonl file"
    )
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument(
        "--rate",
        type=_positive_float,
        metavar="EVENTS_PER_S",
        help=f"events per second (default {DEFAULT_RATE:g})",
    )
    speed.add_argument("--max-speed", action="store_true", help="send as fast as possible")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="SPEC",
        help="drift scenario: preset[@start] or a TOML/JSON file (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--invalid-rate",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="share of events replaced by malformed or out-of-range ones (default 0)",
    )
    parser.add_argument(
        "--outcome-delay",
        type=_non_negative_float,
        default=5.0,
        metavar="S",
        help="seconds between an event and its outcome (default 5)",
    )
    parser.add_argument("--no-outcomes", action="store_true", help="do not publish outcomes")
    parser.add_argument(
        "--start-index", type=_non_negative_int, default=0, help="first event index (default 0)"
    )
    parser.add_argument(
        "--start-time",
        type=_timestamp,
        metavar="RFC3339",
        help="event_time of event 0 (default: now)",
    )
    parser.add_argument(
        "--id-prefix", help="prefix of event and customer ids (default: seed and start time)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="write events to --out instead of Kafka"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="JSON-lines file for --dry-run")
    parser.add_argument(
        "--flush-timeout",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="how long to wait for the last acknowledgements (default 30)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    _check_usage(args)

    from core.kafka.admin import ensure_topics
    from core.kafka.producer import CheckedProducer
    from producers.generator import ChurnGenerator
    from producers.invalid import InvalidMix
    from producers.messages import event_messages
    from producers.publisher import publish
    from producers.replay import count_records, read_event_file, write_event_file
    from producers.scenarios import describe, parse_scenarios

    settings = settings_for(args, "producer")
    if args.replay is not None:
        messages = read_event_file(args.replay)
        total: int | None = count_records(args.replay)
        scenarios: list[Any] = []
    else:
        scenarios = parse_scenarios(args.scenario)
        clock = DEFAULT_RATE if args.max_speed else (args.rate or DEFAULT_RATE)
        now = datetime.now(UTC)
        # Event 0 is at --start-time; by default the clock is set so that the first event
        # sent (index --start-index) is stamped now, whatever index a run resumes from.
        start_time = args.start_time or now - timedelta(seconds=args.start_index / clock)
        generator = ChurnGenerator(
            args.seed,
            scenarios,
            start_time=start_time,
            events_per_second=clock,
            id_prefix=args.id_prefix or f"s{args.seed}-{now:%Y%m%dT%H%M%S}",
        )
        total = _event_count(args)
        invalid = InvalidMix(
            args.seed, args.invalid_rate, max_event_bytes=settings.validation.max_event_bytes
        )
        messages = event_messages(generator, total, args.start_index, invalid)

    if args.dry_run:
        dry = write_event_file(
            messages, args.out, outcome_delay_s=None if args.no_outcomes else args.outcome_delay
        )
        _print(args, dry.as_dict(), f"wrote {dry.events} events and {dry.outcomes} outcomes")
        return 0

    ensure_topics(settings)
    producer = CheckedProducer.from_settings(settings, raise_failures=False)
    report = publish(
        producer,
        messages,
        events_topic=settings.topics.events,
        outcomes_topic=None if args.no_outcomes else settings.topics.outcomes,
        outcome_delay_s=args.outcome_delay,
        rate=None if args.max_speed else (args.rate or DEFAULT_RATE),
        duration_s=args.duration,
        total=total,
        flush_timeout_s=args.flush_timeout,
        progress=not args.no_progress,
    )
    summary = report.as_dict()
    summary["topics"] = {"events": settings.topics.events, "outcomes": settings.topics.outcomes}
    summary["seed"] = args.seed
    summary["scenarios"] = describe(scenarios)
    _print(args, summary, _human(report))
    if report.interrupted:
        return EXIT_INTERRUPTED
    if not report.ok:
        print(
            f"streamscore produce: error: {summary['failed']} of {summary['sent']} records "
            "were not acknowledged (errors: "
            f"{', '.join(f'{k}={v}' for k, v in summary['errors'].items())})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def _check_usage(args: argparse.Namespace) -> None:
    if args.dry_run and args.out is None:
        raise ProduceUsageError("--dry-run needs --out FILE")
    if args.out is not None and not args.dry_run:
        raise ProduceUsageError("--out is only for --dry-run")
    if args.replay is not None and (args.scenario or args.invalid_rate or args.start_index):
        raise ProduceUsageError("--replay sends the file as it is: no --scenario/--invalid-rate")
    if args.dry_run and args.duration is not None and args.max_speed:
        raise ProduceUsageError("--dry-run with --duration needs a --rate to count events")


def _event_count(args: argparse.Namespace) -> int | None:
    if args.n is not None:
        return int(args.n)
    if args.duration is None:
        return DEFAULT_N
    if args.dry_run:
        duration: float = args.duration
        rate: float = args.rate or DEFAULT_RATE
        return round(duration * rate)
    return None


def _human(report: PublishReport) -> str:
    e, o = report.events, report.outcomes
    target = f" (target {report.target_rate:g}/s)" if report.target_rate else " (max speed)"
    if report.target_rate and report.events_per_s < 0.97 * report.target_rate:
        target += " - could not keep up: generation, the network or the broker is the limit"
    invalid = sum(report.invalid.values())
    return (
        f"events: {e.sent} sent, {e.acknowledged} acknowledged, {e.failed} failed"
        f" ({invalid} invalid on purpose)\n"
        f"outcomes: {o.sent} sent, {o.acknowledged} acknowledged, {o.failed} failed\n"
        f"rate: {report.events_per_s:.1f} events/s{target}; {report.elapsed_s:.1f} s in all"
    )


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data) if args.json else text, flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
