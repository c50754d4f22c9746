"""`streamscore broker` (being written)."""

from __future__ import annotations

import argparse

from core.errors import StreamscoreError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("broker", help="(not available yet)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise StreamscoreError("'broker' is not available yet")
