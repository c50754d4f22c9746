"""`streamscore dlq`: look into the dead-letter topic (`stats`) and put back what passes
today (`replay`), once the producer or the settings are fixed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from core.dead_letters.reasons import KNOWN_REASONS
from streamscore.cli.runtime import overridden, settings_for

if TYPE_CHECKING:
    from core.dead_letters.stats import DeadLetterStats
    from core.kafka.dead_letter_replay import ReplayReport

EXIT_INTERRUPTED = 130


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "dlq",
        help="dead letters: counts and redacted samples, and replay of those that pass now",
        description="Inspect the dead-letter topic (topics.dlq) and replay it.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    replay = verbs.add_parser(
        "replay",
        help="put dead letters that pass today's validation back on the input topic",
        description=(
            "Read the dead letters this group has not examined yet, up to the end of the "
            "DLQ as it is at the start, and validate each again under the current contract "
            "and settings (validation.*). Those that pass go back to the input topic with "
            "their original key and value bytes and a streamscore.replayed-from header "
            "(topic:partition:offset of the dead letter), produced in one transaction with "
            "the DLQ offsets: each dead letter is replayed at most once per group, across "
            "runs and crashes. Dead letters passed over (--reason, --since) or still "
            "invalid are not examined again by this group; use --dry-run first, and "
            "--group to look again. Apply the fix to the scorers before replaying, or the "
            "replayed events are dead-lettered again."
        ),
    )
    replay.add_argument(
        "--reason",
        action="append",
        metavar="TYPE",
        help="only dead letters with this error.type (repeatable); one of "
        + ", ".join(sorted(KNOWN_REASONS)),
    )
    replay.add_argument(
        "--since", metavar="TIME", help="only dead letters written since TIME (2h, 2026-12-01)"
    )
    replay.add_argument("--group", metavar="NAME", help="replay group (default dlq.group_id)")
    replay.add_argument(
        "--dry-run", action="store_true", help="judge and count; produce and commit nothing"
    )
    replay.add_argument("--json", action="store_true", help="print the counts as JSON")
    replay.set_defaults(func=_replay)

    stats = verbs.add_parser(
        "stats",
        help="dead letters by reason and source partition, with redacted samples",
        description=(
            "Count the dead letters written in a time range (record timestamps) by reason "
            "and by source partition, and show a few samples per reason with their values "
            "redacted: field names and value shapes only, the contract's numeric features "
            "shown, fields named in logging.pii_fields marked <pii>. Reads without a "
            "consumer group; commits nothing."
        ),
    )
    stats.add_argument("--since", metavar="TIME", help="from TIME (default: the whole topic)")
    stats.add_argument("--until", metavar="TIME", help="before TIME (default: now)")
    stats.add_argument("--samples", type=int, metavar="N", help="samples per reason (dlq.samples)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.set_defaults(func=_stats)


def _replay(args: argparse.Namespace) -> int:
    from core.dead_letters.revalidation import Selection, known_reasons
    from core.dead_letters.time_range import parse_time
    from core.kafka.dead_letter_replay import replay_dead_letters
    from core.shutdown import stop_on_signals

    now = datetime.now(UTC)
    reasons = known_reasons(args.reason or ())
    since = parse_time(args.since, now) if args.since is not None else None
    settings = settings_for(args, "dlq-replay")
    settings.dlq = overridden(settings.dlq, {"group_id": "--group"}, group_id=args.group)
    selection = Selection(settings.topics.events, reasons, since)
    with ProgressBar("dry run" if args.dry_run else "replay", sys.stderr) as bar:
        report = replay_dead_letters(
            settings,
            selection,
            dry_run=args.dry_run,
            progress=bar.update,
            stop=stop_on_signals(),
        )
    if args.json:
        _dump(report.as_dict())
    else:
        print(replay_summary(report))
    return EXIT_INTERRUPTED if report.interrupted else 0


def _stats(args: argparse.Namespace) -> int:
    from core.dead_letters.letter import DeadLetter
    from core.dead_letters.redaction import SampleRedactor
    from core.dead_letters.stats import DeadLetterStats
    from core.dead_letters.time_range import TimeRange
    from core.kafka.admin import check_reachable
    from core.kafka.readback import read_back

    window = TimeRange.parse(args.since, args.until, datetime.now(UTC))
    settings = settings_for(args, "dlq-stats")
    settings.dlq = overridden(settings.dlq, samples=args.samples)
    check_reachable(settings)
    with ProgressBar("read", sys.stderr) as bar:
        back = read_back(settings, settings.topics.dlq, since=window.since, progress=bar.update)
    stats = DeadLetterStats.of(
        (DeadLetter.of(r) for r in back.records),
        window,
        SampleRedactor(settings.logging.pii_fields),
        settings.dlq.samples,
    )
    if args.json:
        _dump({"topic": settings.topics.dlq, **stats.as_dict()})
    else:
        print(stats_summary(settings.topics.dlq, stats))
    return 0


class ProgressBar:
    """A tqdm bar on a terminal; nothing elsewhere (the summary says how it went)."""

    def __init__(self, desc: str, stream: TextIO) -> None:
        self._bar: Any = None
        if stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, unit="dl", file=stream, leave=False)

    def update(self, done: int, expected: int) -> None:
        if self._bar is not None:
            self._bar.total = max(expected, done)
            self._bar.n = done
            self._bar.refresh()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def replay_summary(report: ReplayReport) -> str:
    """The counts for a person, one outcome a line."""
    t = report.tally
    verb = "would replay" if report.dry_run else "replayed"
    lines = [
        f"{verb} {t.replayed.total()} of {t.examined} dead letters examined "
        f"(group {report.group_id}, {report.seconds:.1f} s)"
    ]
    if t.replayed:
        lines.append(f"  {verb} (dead-lettered for): {_counts(t.replayed)}")
    if t.still_invalid:
        lines.append(f"  still invalid: {_counts(t.still_invalid)}")
    if t.skipped:
        lines.append(f"  passed over: {_counts(t.skipped)}")
    if report.dry_run:
        lines.append("  dry run: nothing produced, nothing committed")
    if report.interrupted:
        lines.append("  interrupted: the rest waits for the next run")
    return "\n".join(lines)


def stats_summary(topic: str, stats: DeadLetterStats) -> str:
    w = stats.window
    since = w.since.isoformat(timespec="seconds") if w.since else "the start"
    until = w.until.isoformat(timespec="seconds") if w.until else "now"
    lines = [f"{stats.total} dead letters on {topic} from {since} to {until}"]
    if stats.first is not None and stats.last is not None:
        lines.append(
            f"  first {stats.first.written_at.isoformat(timespec='seconds')}, "
            f"last {stats.last.written_at.isoformat(timespec='seconds')}"
        )
    for title, counts in (
        ("by reason", stats.by_reason),
        ("by source partition", stats.by_source_partition),
    ):
        if counts:
            lines.append(f"{title}:")
            width = max(len(k) for k in counts)
            lines += [f"  {k:<{width}}  {v:>7}" for k, v in counts.most_common()]
    if any(stats.samples.values()):
        lines.append("samples (values redacted):")
        for reason, samples in stats.samples.items():
            for s in samples:
                lines.append(f"  {reason} at {s['dead_letter']}: {s['message']}")
                lines.append(f"    {json.dumps(s['value'])}")
    return "\n".join(lines)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _dump(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
