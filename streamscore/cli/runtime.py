"""What every subcommand does first: load settings, configure logging."""

from __future__ import annotations

import argparse
import sys

from core.logging import configure_logging
from core.settings import Settings, load_settings


def settings_for(
    args: argparse.Namespace, service: str, *, logs_to_stdout: bool = False
) -> Settings:
    """Settings from `--config`/env, with logging configured for `service`.

    Commands log to stderr so their stdout stays what scripts read (`--json`); the
    long-running consumers log JSON lines to stdout, where log shippers look.
    """
    settings = load_settings(getattr(args, "config", None))
    configure_logging(
        service,
        settings.logging.level,
        settings.logging.format,
        stream=None if logs_to_stdout else sys.stderr,
    )
    return settings
