"""The API's Prometheus metrics, on its own registry (served at `GET /metrics`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

PATHS = frozenset(
    {"/", "/predict", "/predict/batch", "/health", "/metrics", "/docs", "/openapi.json"}
)
"""Paths counted under their own label; anything else is `other`, so scanners cannot
grow the label set."""


class _CountedElsewhere:
    """A counter whose value another object keeps (here the log publisher's count)."""

    def __init__(self, name: str, documentation: str, value: Callable[[], float]) -> None:
        self._name, self._documentation, self._value = name, documentation, value

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self._name, self._documentation, value=self._value())


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "streamscore_api_requests",
            "HTTP requests by path and status code",
            ["path", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "streamscore_api_request_latency_seconds",
            "From a request's arrival to its response, by path",
            ["path"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        )
        self.model_batch_size = Histogram(
            "streamscore_api_model_batch_size",
            "Events per model call (adaptive batches of /predict, and /predict/batch)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=registry,
        )
        self.batch_request_events = Histogram(
            "streamscore_api_batch_request_events",
            "Events per POST /predict/batch request",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 5000),
            registry=registry,
        )
        self.model_version = Gauge(
            "streamscore_model_version",
            "Version of the model being served (0: none)",
            ["model_name"],
            registry=registry,
        )
        self.models_refused = Counter(
            "streamscore_models_refused", "Versions refused at load", registry=registry
        )

    def count_unsent_logs(self, value: Callable[[], float]) -> None:
        self.registry.register(
            _CountedElsewhere(
                "streamscore_api_logs_unsent",
                "Prediction logs not delivered to Kafka (dropped or failed)",
                value,
            )
        )

    def observe(self, path: str, status: int, seconds: float) -> None:
        label = path if path in PATHS else "other"
        self.requests.labels(label, str(status)).inc()
        self.latency.labels(label).observe(seconds)
