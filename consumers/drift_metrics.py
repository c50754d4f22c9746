"""What the drift watcher and its judge count, on the process's registry."""

from __future__ import annotations

import math
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge

from core.drift.policy import Severity
from core.drift.report import DriftReport

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
        self.statistic = Gauge(
            "streamscore_drift_statistic",
            "The last judged window's statistic per feature and test (ks, psi, js, ...)",
            ["feature", "test"],
            registry=registry,
        )
        self.feature_drifting = Gauge(
            "streamscore_drift_feature_drifting",
            "1 when the latest judged window found the feature drifting",
            ["feature"],
            registry=registry,
        )
        # Exported at 0 before the first one, so a rule's increase() counts it.
        for severity in get_args(Severity):
            self.alerts.labels(severity)

    def observe(self, report: DriftReport) -> None:
        """Each analysed feature's statistics, for a dashboard; a skipped window
        (too few events) leaves the last judged figures in place."""
        if not report.judged:
            return
        for feature in report.features:
            if not feature.analysed:
                continue
            for test in feature.tests:
                if math.isfinite(test.statistic):
                    self.statistic.labels(feature.name, test.name).set(test.statistic)
            self.feature_drifting.labels(feature.name).set(int(feature.drift))
