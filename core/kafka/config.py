"""librdkafka configurations for every client streamscore makes.

Built in one place so every consumer and producer gets the same bootstrap address, the
same passthrough security options and the same safe defaults (idempotence, read_committed,
manual commits).
"""

from __future__ import annotations

from typing import Any

import structlog

from core.kafka.discovery import resolve_bootstrap
from core.settings import Settings

_LEVELS = {0: "critical", 1: "critical", 2: "critical", 3: "error", 4: "warning"}


class LibrdkafkaLogger:
    """Routes librdkafka's own log lines to structlog at debug level.

    librdkafka otherwise writes connection failures straight to stderr, which buries the
    one-line error a person should see when a broker is down.
    """

    def __init__(self) -> None:
        self._log = structlog.get_logger("librdkafka")

    def log(self, level: int, fmt: str, *args: Any) -> None:
        self._log.debug("librdkafka", syslog_level=_LEVELS.get(level, "info"), msg=fmt % args)


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": resolve_bootstrap(settings),
        "logger": LibrdkafkaLogger(),
        **settings.kafka.client,
    }
    config.update(overrides)
    return config


def producer_config(
    settings: Settings, *, transactional_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    config = client_config(
        settings,
        **{
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        },
    )
    if transactional_id is not None:
        config["transactional.id"] = transactional_id
    config.update(overrides)
    return config


def consumer_config(settings: Settings, group_id: str, **overrides: Any) -> dict[str, Any]:
    config = client_config(
        settings,
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        },
    )
    config.update(overrides)
    return config
