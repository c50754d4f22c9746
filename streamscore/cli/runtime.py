"""What every subcommand does first: load settings, find the broker, configure logging.

Every subcommand module imports this one to build its parser, so it imports the
settings, logging, broker and registry code inside the functions that use them:
`streamscore --help` and a bad argument then answer without loading any of it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from core.promotion import Transition
    from core.registry import ModelRegistry
    from core.settings import Settings


def settings_for(
    args: argparse.Namespace, service: str, *, logs_to_stdout: bool = False
) -> Settings:
    """Settings from `--config`/env, with logging configured for `service`.

    Commands log to stderr so their stdout stays what scripts read (`--json`); the
    long-running consumers log JSON lines to stdout, where log shippers look.
    """
    from core.logging import configure_logging
    from core.settings import load_settings

    settings = load_settings(getattr(args, "config", None))
    configure_logging(
        service,
        settings.logging.level,
        settings.logging.format,
        stream=None if logs_to_stdout else sys.stderr,
    )
    return with_local_broker(settings)


def with_local_broker(settings: Settings) -> Settings:
    """Point the settings at the running development broker when nothing else is set.

    Done once, here, so the library's client configuration never depends on the
    development broker (and a production process never looks for one).
    """
    from core.kafka.local_broker import LocalBroker

    if settings.kafka.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip():
        return settings
    running = LocalBroker(settings.state_dir / "broker").status()
    if running is not None:
        settings.kafka.bootstrap_servers = running.bootstrap
    return settings


def registry_for(args: argparse.Namespace, settings: Settings) -> ModelRegistry:
    """The registry named by `--registry`, else by `settings.registry.path`."""
    from core.registry import ModelRegistry

    path = getattr(args, "registry", None) or settings.registry.path
    return ModelRegistry.from_config(settings.registry, Path(path))


def told(transition: Transition) -> None:
    """Say on stderr when running processes could not be told of a production change."""
    if transition.announce_problem is not None:
        print(
            f"note: model-events not published ({transition.announce_problem}); running "
            "processes pick the change up from the registry within registry.poll_s",
            file=sys.stderr,
        )


SectionT = TypeVar("SectionT", bound="BaseModel")


def overridden(
    section: SectionT, flags: Mapping[str, str] | None = None, **options: object
) -> SectionT:
    """A settings section with the command-line options that were given (not None) laid
    over it, validated as a whole like the section itself. A bad value is named by its
    flag (`flags` maps a field to its flag where they differ; else `--field-name`)."""
    from pydantic import ValidationError

    given = {k: v for k, v in options.items() if v is not None}
    try:
        return type(section).model_validate(section.model_dump() | given)
    except ValidationError as exc:
        names = dict(flags or {})

        def flag(field: str) -> str:
            return names.get(field, "--" + field.replace("_", "-"))

        problems = "; ".join(f"{flag(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid option {problems}", hint="see the command's --help") from None
