"""librdkafka configurations for every client streamscore makes.

Built in one place so every consumer and producer gets the same bootstrap address, the
same passthrough security options and the same safe defaults (idempotence, read_committed,
manual commits).
"""

from __future__ import annotations

from typing import Any

from core.kafka.client_logging import LibrdkafkaLogger
from core.kafka.connection_problems import RefusalLog
from core.kafka.discovery import resolve_bootstrap
from core.settings import Settings


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": resolve_bootstrap(settings),
        "logger": LibrdkafkaLogger(),
        **settings.kafka.client_options(),
    }
    config.update(overrides)
    return config


PRODUCER_TUNING: dict[str, Any] = {"linger.ms": 5, "compression.type": "lz4"}
"""Producer defaults a user's `kafka.client` may change, unlike the options the delivery
guarantees rest on (idempotence, `acks=all`), which `producer_config` always sets."""


def producer_config(
    settings: Settings, *, transactional_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    config = {
        **PRODUCER_TUNING,
        **client_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        # Additive for a producer, whose errors otherwise only reach librdkafka's
        # log; a consumer would stop seeing them as messages, so it gets none.
        "error_cb": RefusalLog(),
    }
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
