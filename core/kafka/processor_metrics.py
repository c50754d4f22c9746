"""What every batch processor counts, on the process's Prometheus registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ProcessorMetrics:
    consumed: Counter
    produced: Counter
    batches: Counter
    aborted: Counter
    batch_size: Histogram
    batch_seconds: Histogram
    lag: Gauge
    paused: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ProcessorMetrics:
        labels = ["consumer"]
        return cls(
            consumed=Counter(
                "streamscore_records_consumed", "Input records consumed", labels, registry=registry
            ),
            produced=Counter(
                "streamscore_records_produced", "Output records produced", labels, registry=registry
            ),
            batches=Counter("streamscore_batches", "Batches committed", labels, registry=registry),
            aborted=Counter(
                "streamscore_transactions_aborted",
                "Batches aborted and re-processed",
                labels,
                registry=registry,
            ),
            batch_size=Histogram(
                "streamscore_batch_size",
                "Records per batch",
                labels,
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
                registry=registry,
            ),
            batch_seconds=Histogram(
                "streamscore_batch_seconds",
                "Time from a batch's consumption to its commit",
                labels,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=registry,
            ),
            lag=Gauge(
                "streamscore_consumer_lag",
                "Records between the committed position and the partition end",
                ["consumer", "topic", "partition"],
                registry=registry,
            ),
            paused=Gauge(
                "streamscore_input_paused", "1 while input is paused", labels, registry=registry
            ),
        )
