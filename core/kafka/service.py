"""A long-running consumer process, written once: what `score`, `drift run` and every
coming consumer share.

In order: check the broker answers (one clear error instead of a hang), build the
handler, start `/health` and `/metrics`, run the batch processor until SIGTERM (the
batch in hand is finished), then stop the HTTP server and close the handler. A consumer
module only says what is particular to it: a `ConsumerSpec` and how to build its
handler on the process's metrics registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from core.consumer_config import ConsumerConfig
from core.health import HealthServer
from core.kafka.admin import check_reachable
from core.kafka.processor import (
    BatchHandler,
    BatchProcessor,
    BatchTiming,
    Delivery,
    ErrorPolicy,
    ProcessorOptions,
)
from core.settings import Settings


@dataclass(frozen=True)
class ConsumerSpec:
    """What makes one consumer process what it is."""

    service: str
    """Name in logs, metrics and `/health`."""
    group_id: str
    topics: Sequence[str]
    batch_size: int
    batch_timeout_ms: int
    http_port: int
    on_error: ErrorPolicy
    http_host: str = "127.0.0.1"
    delivery: Delivery = "exactly-once"
    transactional_id: str | None = None
    transaction_timeout_ms: int = 10000
    started_fields: dict[str, Any] = field(default_factory=dict)
    """Extra fields of the `<service>_started` log line."""

    @classmethod
    def from_config(
        cls,
        service: str,
        config: ConsumerConfig,
        topics: Sequence[str],
        on_error: ErrorPolicy,
        **particular: Any,
    ) -> ConsumerSpec:
        """The spec of a consumer whose section is `config`; `particular` sets the rest."""
        return cls(
            service=service,
            group_id=config.group_id,
            topics=topics,
            batch_size=config.batch_size,
            batch_timeout_ms=config.batch_timeout_ms,
            http_port=config.http_port,
            http_host=config.http_host,
            on_error=on_error,
            **particular,
        )

    def options(self) -> ProcessorOptions:
        return ProcessorOptions(
            name=self.service,
            group_id=self.group_id,
            topics=self.topics,
            batch_size=self.batch_size,
            batch_timeout_s=self.batch_timeout_ms / 1000,
            delivery=self.delivery,
            transactional_id=self.transactional_id,
            transaction_timeout_ms=self.transaction_timeout_ms,
        )


def run_consumer(
    settings: Settings,
    stop: threading.Event,
    spec: ConsumerSpec,
    build_handler: Callable[[CollectorRegistry], BatchHandler],
    *,
    on_batch: Callable[[BatchTiming], None] | None = None,
) -> None:
    """Run one consumer until `stop` is set; `/health` and `/metrics` served meanwhile."""
    log = structlog.get_logger(spec.service)
    check_reachable(settings)
    registry = CollectorRegistry()
    handler = build_handler(registry)
    try:
        handler.idle()
        processor = BatchProcessor(
            settings, spec.options(), handler, spec.on_error, registry=registry, on_batch=on_batch
        )

        def status() -> dict[str, Any]:
            return {
                "status": "healthy" if handler.ready() else "degraded",
                "service": spec.service,
                **handler.status(),
                "input_paused": processor.paused,
                "partitions": processor.assignment,
                "last_batch_time": processor.last_batch_at,
            }

        health = HealthServer(status, registry, spec.http_port, spec.http_host).start()
        log.info(
            f"{spec.service}_started",
            group_id=spec.group_id,
            delivery=spec.delivery,
            http_host=spec.http_host,
            http_port=health.port,
            **spec.started_fields,
            **handler.status(),
        )
        try:
            processor.run(stop)
        finally:
            health.stop()
    finally:
        handler.close()
        log.info(f"{spec.service}_stopped")
