"""What the drift watcher and its judge count, on the process's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

SERVICE = "drift"


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.windows = Counter(
            "streamscore_drift_windows_closed", "Windows closed", ["verdict"], registry=registry
        )
        self.alerts = Counter(
            "streamscore_drift_alerts", "Alerts emitted", ["severity"], registry=registry
        )
        self.late = Gauge(
            "streamscore_drift_late_events", "Events after their window closed", registry=registry
        )
        self.invalid = Counter(
            "streamscore_drift_invalid_events", "Invalid events skipped", registry=registry
        )
        self.profile_version = Gauge(
            "streamscore_drift_profile_version",
            "Model version whose profile is used",
            registry=registry,
        )
        self.late_shares = Gauge(
            "streamscore_drift_late_share_events",
            "Events of partition shares that reached the judge after their window (idle "
            "partitions that woke up)",
            registry=registry,
        )
        self.pending = Gauge(
            "streamscore_drift_pending_windows",
            "Windows the judge waits on (some partition not past them yet)",
            registry=registry,
        )
