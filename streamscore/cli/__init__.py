"""The `streamscore` command: one entry point, one subcommand per module.

Each module in this package exposes `add_parser(subparsers)`; the parser it adds sets
`func(args) -> int`. Errors that streamscore raises on purpose become one line on stderr
and a non-zero exit; nothing a user can cause ends in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from core.errors import StreamscoreError
from streamscore import __version__

_COMMANDS = (
    "demo",
    "broker",
    "topics",
    "train",
    "registry",
    "produce",
    "score",
    "serve",
    "drift",
    "monitor",
    "retrain",
    "dlq",
)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamscore",
        description=(
            "Event-driven streaming scorer for ML models on Apache Kafka: score events "
            "in micro-batches with the registry's production model, watch feature drift "
            "against the model's training profile, retrain on labelled data read back from "
            "Kafka when an alert fires, gate the challenger against the champion, promote "
            "it, and hot-swap promoted versions."
        ),
        epilog=(
            "Settings come from STREAMSCORE_* environment variables and an optional TOML "
            "file (--config or STREAMSCORE_CONFIG). The broker is KAFKA_BOOTSTRAP_SERVERS "
            "if set, else the local broker started by `streamscore broker start`."
        ),
    )
    parser.add_argument("--version", action="version", version=f"streamscore {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMANDS:
        module = importlib.import_module(f"streamscore.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StreamscoreError as exc:
        print(f"streamscore {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"streamscore {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours, and no traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
