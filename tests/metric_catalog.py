"""Every metric streamscore's processes export, built from the same classes the processes
build, so ops/ (alert rules, dashboard) can be checked against names that really exist.

A consumer process's registry is what `core.kafka.service.run_consumer` puts on it: the
batch processor's metrics, the degraded gauge and the handler's own metrics; the API's is
what `api.app.create_app` puts on its own. Tests compare this with a running API's and a
running scorer's `/metrics`, so the catalog cannot drift from the processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from api.metrics import ApiMetrics
from consumers.drift import DriftMetrics
from consumers.performance import MonitorMetrics
from consumers.retrainer import RetrainMetrics
from consumers.scorer import ScorerMetrics
from core.health import degraded_gauge
from core.kafka.processor_metrics import ProcessorMetrics

SCRAPE_LABELS = frozenset({"job", "instance"})
"""Added by Prometheus to every scraped series."""
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


@dataclass(frozen=True)
class Family:
    name: str
    kind: str
    labels: frozenset[str]

    def series(self) -> dict[str, frozenset[str]]:
        """The series names a scrape of this family yields, with their label names."""
        out = {}
        for suffix in _SUFFIXES[self.kind]:
            extra = {"le"} if suffix == "_bucket" else set()
            out[self.name + suffix] = self.labels | extra | SCRAPE_LABELS
        return out


def _families(objects: Iterable[object]) -> list[Family]:
    """The metrics among `objects` and their attributes (a metrics class's fields)."""
    out = []
    for obj in objects:
        found = [obj] if isinstance(obj, MetricWrapperBase) else list(vars(obj).values())
        for metric in found:
            if isinstance(metric, MetricWrapperBase):
                # prometheus_client keeps names, types and label names private.
                out.append(Family(metric._name, metric._type, frozenset(metric._labelnames)))
    return out


def _process(build: Callable[[CollectorRegistry], object], consumer: bool) -> list[Family]:
    registry = CollectorRegistry()
    objects = [build(registry), degraded_gauge(registry, "any", lambda: True)]
    if consumer:
        objects.append(ProcessorMetrics.create(registry))
    return _families(objects)


def catalog() -> dict[str, dict[str, frozenset[str]]]:
    """Per process kind, series name -> label names."""
    builders: dict[str, Callable[[CollectorRegistry], object]] = {
        "scorer": ScorerMetrics,
        "drift": DriftMetrics,
        "monitor": MonitorMetrics,
        "retrainer": RetrainMetrics,
    }
    out: dict[str, dict[str, frozenset[str]]] = {}
    for kind, build in [*builders.items(), ("api", ApiMetrics)]:
        series: dict[str, frozenset[str]] = {}
        for family in _process(build, consumer=kind != "api"):
            series.update(family.series())
        out[kind] = series
    out["api"].update(Family("streamscore_api_logs_unsent", "counter", frozenset()).series())
    out["up"] = {"up": SCRAPE_LABELS}
    return out
