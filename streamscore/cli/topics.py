"""`streamscore topics create|list`: the contract's topics."""

from __future__ import annotations

import argparse
import json

from streamscore.cli.runtime import settings_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "topics",
        help="create the topics of the contract",
        description="Create every topic of the streamscore contract (idempotent).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="create missing topics; existing ones are kept")
    create.add_argument("--json", action="store_true", help="print results as JSON lines")
    create.set_defaults(func=_create)
    show = actions.add_parser("list", help="print the contract's topic names and partitions")
    show.set_defaults(func=_list)


def _create(args: argparse.Namespace) -> int:
    from core.kafka.admin import ensure_topics

    settings = settings_for(args, "topics")
    for result in ensure_topics(settings):
        if args.json:
            print(json.dumps(result.__dict__))
        else:
            print(f"{result.outcome:8} {result.name} ({result.partitions} partitions)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from core.kafka.admin import contract_topics

    settings = settings_for(args, "topics")
    for spec in contract_topics(settings):
        print(f"{spec.name}\t{spec.partitions}")
    return 0
