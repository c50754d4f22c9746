"""What every subcommand does first: load settings, configure logging."""

from __future__ import annotations

import argparse

from core.logging import configure_logging
from core.settings import Settings, load_settings


def settings_for(args: argparse.Namespace, service: str) -> Settings:
    """Settings from `--config`/env, with logging configured for `service`."""
    settings = load_settings(getattr(args, "config", None))
    configure_logging(service, settings.logging.level, settings.logging.format)
    return settings
