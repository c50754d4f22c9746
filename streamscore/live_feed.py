"""Where the demo's live view gets its figures: what the processes already expose.

Every process serves `/metrics`; the demo's log says on which port (the
`<service>_started` line, read from the demo's own log file, so the processes can keep
binding port 0). Alerts and retrain decisions come from their topics, read by one
consumer of its own. All of it runs on one background thread a few times a second,
off the processes' hot path: a scrape is one small HTTP request per process, and the
Kafka reads are a non-blocking poll.

`SnapshotBuilder` turns scrapes and records into `DemoSnapshot`s without any I/O, so the
arithmetic (rates, sums per reason) is tested on its own.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import Consumer
from prometheus_client.parser import text_string_to_metric_families

from core.kafka.config import consumer_config
from core.settings import Settings
from streamscore.live_view import AlertLine, DecisionLine, DemoSnapshot, FeatureDrift

Samples = dict[str, list[tuple[dict[str, str], float]]]
"""One process's `/metrics`: sample name -> (labels, value) per series."""


WANTED = (
    "streamscore_records_consumed_total",
    "streamscore_events_scored_total",
    "streamscore_events_dead_lettered_total",
    "streamscore_model_version",
    "streamscore_consumer_lag",
    "streamscore_drift_statistic",
    "streamscore_drift_feature_",
    "streamscore_drift_windows_closed_total",
    "streamscore_monitor_cumulative_metric",
)
"""The samples the view uses: the rest of a scrape (histogram buckets mostly) is
dropped before parsing, which is most of a scrape's cost."""


def parse_metrics(text: str, wanted: tuple[str, ...] = WANTED) -> Samples:
    """The Prometheus text format as plain data (sample names as exposed: `_total`),
    for the series whose name starts with one of `wanted`.

    >>> parse_metrics('# TYPE a_total counter\\na_total{k="x"} 2.0\\nb 1.0\\n', ("a_",))
    {'a_total': [({'k': 'x'}, 2.0)]}
    """
    kept = "\n".join(line for line in text.splitlines() if line.startswith(wanted))
    samples: Samples = {}
    for family in text_string_to_metric_families(kept + "\n"):
        for s in family.samples:
            samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return samples


@dataclass(frozen=True)
class Scrape:
    """Every process's metrics at one moment (a process not up yet is absent)."""

    at: float
    """time.monotonic() of the scrape."""
    services: Mapping[str, Samples] = field(default_factory=dict)

    def values(self, service: str, name: str) -> list[tuple[dict[str, str], float]]:
        return self.services.get(service, {}).get(name, [])

    def total(self, service: str, name: str) -> float:
        return sum(v for _, v in self.values(service, name))


class SnapshotBuilder:
    """Scrapes and output records in, `DemoSnapshot`s out; keeps what must be remembered
    (recent totals for the rates, the alerts and decisions seen)."""

    def __init__(self, started: float, rate_window_s: float = 3.0) -> None:
        self._started = started
        self._window_s = rate_window_s
        self._history: deque[tuple[float, float, float]] = deque()
        self._alerts: list[AlertLine] = []
        self._decisions: list[DecisionLine] = []

    def add_drift_alert(self, alert: Mapping[str, Any]) -> None:
        self._alerts.append(
            AlertLine(
                "drift",
                str(alert.get("severity", "?")),
                int(alert.get("model_version", 0)),
                ", ".join(alert.get("drifting_features", [])) or "-",
            )
        )

    def add_performance_alert(self, alert: Mapping[str, Any]) -> None:
        self._alerts.append(
            AlertLine(
                "performance",
                str(alert.get("severity", "?")),
                int(alert.get("model_version", 0)),
                f"{alert.get('metric')} {float(alert.get('value', 0.0)):.3f} "
                f"< {float(alert.get('threshold', 0.0)):.3f}",
            )
        )

    def add_decision(self, decision: Mapping[str, Any]) -> None:
        challenger = decision.get("challenger_version")
        self._decisions.append(
            DecisionLine(
                str(decision.get("outcome", "?")),
                str(decision.get("reason", "")),
                int(challenger) if challenger is not None else None,
            )
        )

    def snapshot(self, scrape: Scrape, step: str) -> DemoSnapshot:
        consumed = scrape.total("scorer", "streamscore_records_consumed_total")
        scored = scrape.total("scorer", "streamscore_events_scored_total")
        in_rate, out_rate = self._rates(scrape.at, consumed, scored)
        versions = [v for _, v in scrape.values("scorer", "streamscore_model_version") if v > 0]
        return DemoSnapshot(
            elapsed_s=scrape.at - self._started,
            step=step,
            events_in_per_s=in_rate,
            events_out_per_s=out_rate,
            consumed=int(consumed),
            scored=int(scored),
            serving_version=int(max(versions)) if versions else None,
            lag={
                service: int(scrape.total(service, "streamscore_consumer_lag"))
                for service in sorted(scrape.services)
            },
            dead_letters={
                labels["error_type"]: int(v)
                for labels, v in scrape.values("scorer", "streamscore_events_dead_lettered_total")
                if v > 0
            },
            drift=_drift(scrape),
            drift_windows={
                labels["verdict"]: int(v)
                for labels, v in scrape.values("drift", "streamscore_drift_windows_closed_total")
                if v > 0
            },
            alerts=tuple(self._alerts),
            decisions=tuple(self._decisions),
            live_auc={
                int(labels["model_version"]): v
                for labels, v in scrape.values("monitor", "streamscore_monitor_cumulative_metric")
                if labels.get("metric") == "roc_auc"
            },
        )

    def _rates(self, at: float, consumed: float, scored: float) -> tuple[float, float]:
        """Per second over the last `rate_window_s` (one scrape apart is too jumpy)."""
        self._history.append((at, consumed, scored))
        while len(self._history) > 2 and at - self._history[1][0] >= self._window_s:
            self._history.popleft()
        t0, c0, s0 = self._history[0]
        span = at - t0
        if span <= 0:
            return 0.0, 0.0
        return max(consumed - c0, 0.0) / span, max(scored - s0, 0.0) / span


def _drift(scrape: Scrape) -> tuple[FeatureDrift, ...]:
    drifting = {
        labels["feature"]: v > 0
        for labels, v in scrape.values("drift", "streamscore_drift_feature_drifting")
    }
    return tuple(
        FeatureDrift(labels["feature"], v, drifting.get(labels["feature"], False))
        for labels, v in sorted(
            scrape.values("drift", "streamscore_drift_statistic"),
            key=lambda lv: lv[0]["feature"],
        )
        if labels.get("test") == "psi"
    )


class MetricsPorts:
    """Each process's `/metrics` port, from its `<service>_started` line in the demo log.

    Only lines of this run's consumer groups count: the log file is appended across runs.
    """

    def __init__(self, log_path: Path, groups: Mapping[str, str]) -> None:
        self._path = log_path
        self._groups = dict(groups)
        """group id -> service name."""
        self._offset = 0
        self.ports: dict[str, int] = {}

    def refresh(self) -> dict[str, int]:
        if len(self.ports) == len(self._groups):
            return self.ports
        try:
            with self._path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return self.ports
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        for line in chunk[:complete].splitlines():
            if b"_started" not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            service = self._groups.get(entry.get("group_id", ""))
            if service is not None and isinstance(entry.get("http_port"), int):
                self.ports[service] = entry["http_port"]
        return self.ports


def scrape(ports: Mapping[str, int], timeout_s: float = 2.0) -> Scrape:
    """One GET of `/metrics` per process; one that does not answer is left out."""
    services: dict[str, Samples] = {}
    for service, port in ports.items():
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/metrics", timeout=timeout_s
            ) as response:
                services[service] = parse_metrics(response.read().decode())
        except OSError:
            continue
    return Scrape(time.monotonic(), services)


class Scraper:
    """Scrapes the scorer every tick (the throughput figures) and the other processes
    every `slow_every` ticks; a process that does not answer keeps its last figures, so
    a missed scrape is not read as a counter falling to zero."""

    def __init__(self, ports: MetricsPorts, slow_every: int = 4) -> None:
        self._ports = ports
        self._slow_every = slow_every
        self._tick = 0
        self._last: dict[str, Samples] = {}

    def __call__(self) -> Scrape:
        ports = self._ports.refresh()
        due = {
            service: port
            for service, port in ports.items()
            if service == "scorer" or self._tick % self._slow_every == 0
            or service not in self._last
        }  # fmt: skip
        self._tick += 1
        fresh = scrape(due)
        self._last.update(fresh.services)
        return Scrape(fresh.at, dict(self._last))


class LiveFeed:
    """Builds a snapshot every `period_s` on its own thread and hands it to `show`."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        step: Callable[[], str],
        show: Callable[[DemoSnapshot], None],
        period_s: float = 0.25,
        started: float | None = None,
    ) -> None:
        self._topics = settings.topics
        groups = {
            settings.scorer.group_id: "scorer",
            settings.drift.group_id: "drift",
            settings.monitor.group_id: "monitor",
            settings.retrain.group_id: "retrainer",
        }
        self._scrape = Scraper(MetricsPorts(log_path, groups))
        self._settings = settings
        self._step = step
        self._show = show
        self._period_s = period_s
        self._builder = SnapshotBuilder(time.monotonic() if started is None else started)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self.latest: DemoSnapshot | None = None

    def start(self) -> LiveFeed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        consumer = Consumer(consumer_config(self._settings, f"demo-view-{time.time_ns()}"))
        topics = self._topics
        consumer.subscribe([topics.alerts, topics.performance_alerts, topics.retrain_decisions])
        add = {
            topics.alerts: self._builder.add_drift_alert,
            topics.performance_alerts: self._builder.add_performance_alert,
            topics.retrain_decisions: self._builder.add_decision,
        }
        ticks, cpu_started, wall_started = 0, time.thread_time(), time.monotonic()
        try:
            while not self._stop.is_set():
                ticks += 1
                began = time.monotonic()
                for m in consumer.consume(100, 0):
                    if m.error() is None:
                        try:
                            add[m.topic() or ""](json.loads(m.value() or b"{}"))
                        except (ValueError, KeyError, TypeError):
                            continue
                self.latest = self._builder.snapshot(self._scrape(), self._step())
                self._show(self.latest)
                self._stop.wait(max(0.0, self._period_s - (time.monotonic() - began)))
        finally:
            consumer.close()
            wall = time.monotonic() - wall_started
            structlog.get_logger("live_feed").info(
                "live_feed_stopped",
                ticks=ticks,
                seconds=round(wall, 1),
                cpu_seconds=round(time.thread_time() - cpu_started, 3),  # its own cost
            )
