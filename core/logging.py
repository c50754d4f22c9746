"""structlog set up once per process.

JSON lines on stdout when not attached to a terminal (what log shippers read), a
console renderer on one (what people read). Every event carries timestamp, level,
service and event name; callers bind context with `structlog.contextvars`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["auto", "json", "console"]


def configure_logging(
    service: str,
    level: str = "info",
    fmt: LogFormat = "auto",
    stream: Any = None,
) -> None:
    out = stream if stream is not None else sys.stdout
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _ServiceName(service),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # Without an explicit stream, write to whatever sys.stdout is at each call, so a
        # replaced stdout (tests, daemonizing) never leaves loggers on a closed file.
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


class _ServiceName:
    """Adds `service` to every event so mixed logs can be told apart."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __call__(
        self, logger: Any, method_name: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event_dict.setdefault("service", self._service)
        return event_dict


def get_logger(**initial: Any) -> Any:
    return structlog.get_logger(**initial)
