"""librdkafka's own log lines, routed to structlog.

Its own module so that every client, the development broker's readiness probe included,
can use it without importing the client configuration.
"""

from __future__ import annotations

from typing import Any

import structlog

_LEVELS = {0: "critical", 1: "critical", 2: "critical", 3: "error", 4: "warning"}


class LibrdkafkaLogger:
    """Routes librdkafka's log lines to structlog at debug level.

    librdkafka otherwise writes connection failures straight to stderr, which buries the
    one-line error a person should see when a broker is down.
    """

    def __init__(self) -> None:
        self._log = structlog.get_logger("librdkafka")

    def log(self, level: int, fmt: str, *args: Any) -> None:
        self._log.debug("librdkafka", syslog_level=_LEVELS.get(level, "info"), msg=fmt % args)
