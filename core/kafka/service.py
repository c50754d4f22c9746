"""A long-running consumer process, written once: what `score`, `drift run` and every
coming consumer share.

In order: check the broker answers (one clear error instead of a hang), build the
handler, start `/health` and `/metrics`, run the batch processor until SIGTERM (the
batch in hand is finished), then stop the HTTP server and close the handler. A consumer
module only says what is particular to it: a `ConsumerSpec` and how to build its
handler on the process's metrics registry.

A consumer may bring companions: further processors in the same process, each on its
own thread with its own group, transactional id and handler (the judge of the drift
watcher and of the performance monitor), sharing the metrics registry and `/health`.
A companion that fails stops the whole process, with its error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from core.consumer_config import ConsumerConfig
from core.health import HealthServer, degraded_gauge
from core.kafka.admin import check_reachable
from core.kafka.processor import (
    BatchHandler,
    BatchProcessor,
    BatchTiming,
    ErrorPolicy,
    ProcessorOptions,
)
from core.settings import Settings
from core.settings_defaults import Delivery


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
    overlap_commit: bool = False
    """Process the next batch while the last one commits (handlers without state)."""
    started_fields: dict[str, Any] = field(default_factory=dict)
    """Extra fields of the `<service>_started` log line."""
    consumer_overrides: Mapping[str, Any] = field(default_factory=dict)
    """librdkafka options of this consumer only (`ProcessorOptions.consumer_overrides`)."""

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
            overlap_commit=self.overlap_commit,
            consumer_overrides=self.consumer_overrides,
        )


@dataclass(frozen=True)
class Companion:
    """A further processor run beside a consumer's own, on a thread."""

    spec: ConsumerSpec
    build_handler: Callable[[CollectorRegistry], BatchHandler]


class _CompanionThread:
    def __init__(self, processor: BatchProcessor, name: str, stop: threading.Event) -> None:
        self.error: BaseException | None = None
        self._processor, self._stop = processor, stop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._processor.run(self._stop)
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
            self._stop.set()

    def join(self) -> None:
        self._thread.join()


def run_consumer(
    settings: Settings,
    stop: threading.Event,
    spec: ConsumerSpec,
    build_handler: Callable[[CollectorRegistry], BatchHandler],
    *,
    on_batch: Callable[[BatchTiming], None] | None = None,
    companions: Sequence[Companion] = (),
) -> None:
    """Run one consumer until `stop` is set; `/health` and `/metrics` served meanwhile."""
    log = structlog.get_logger(spec.service)
    check_reachable(settings)
    registry = CollectorRegistry()
    handler = build_handler(registry)
    degraded_gauge(registry, spec.service, handler.ready)
    helpers = [(c, c.build_handler(registry)) for c in companions]
    threads: list[_CompanionThread] = []
    try:
        handler.idle()
        processor = BatchProcessor(
            settings, spec.options(), handler, spec.on_error, registry=registry, on_batch=on_batch
        )
        for companion, helper in helpers:
            helper.idle()
            side = BatchProcessor(
                settings,
                companion.spec.options(),
                helper,
                companion.spec.on_error,
                metrics=processor.metrics,
            )
            threads.append(_CompanionThread(side, companion.spec.service, stop))

        def status() -> dict[str, Any]:
            return {
                "status": "healthy" if handler.ready() else "degraded",
                "service": spec.service,
                **handler.status(),
                **{c.spec.service: h.status() for c, h in helpers},
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
        for thread in threads:
            thread.start()
        try:
            processor.run(stop)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            health.stop()
        for thread in threads:
            if thread.error is not None:
                raise thread.error
    finally:
        for _, helper in helpers:
            helper.close()
        handler.close()
        log.info(f"{spec.service}_stopped")
