"""Drift settings section (`STREAMSCORE_DRIFT__*`).

The defaults and the reasons for them are written out in docs/drift.md; in short, a
feature drifts only when its test is significant after the multiple-testing correction
AND an effect size reaches its threshold, so large windows do not alarm on negligible
shifts and small windows do not alarm on noise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from core.consumer_config import ConsumerConfig


class DriftConfig(ConsumerConfig):
    model_config = ConfigDict(extra="forbid")

    group_id: str = "streamscore-drift"
    """Consumer group of the drift watcher (separate from the scorers')."""

    window_kind: Literal["event-time", "count"] = "event-time"
    """event-time: windows of `window_seconds` of event time, closed by the watermark
    (robust to backlogs and restarts); count: `window_events` events in arrival order."""

    window_seconds: float = Field(default=300.0, gt=0)
    """Event-time window size in seconds."""

    window_events: int = Field(default=5000, ge=1)
    """Count window size in events (with `window_kind = "count"`)."""

    hop_events: int | None = Field(default=None, ge=1)
    """Hopping windows by count: a new window starts every `hop_events` events."""

    hop_seconds: float | None = Field(default=None, gt=0)
    """Hopping event-time windows: a new window starts every `hop_seconds` seconds."""

    allowed_lateness_s: float = Field(default=30.0, ge=0)
    """Event-time windows close when the watermark (max event time seen minus this)
    passes their end; events for an already closed window are counted as late."""

    min_window_events: int = Field(default=500, ge=1)
    """Windows with fewer valid events are skipped and reported as such. At 500 events a
    KS shift at the default effect threshold (0.1) is already significant at alpha."""

    alpha: float = Field(default=0.01, gt=0, lt=1)
    """Per-window false-alarm rate across all features (after `correction`)."""

    correction: Literal["bh", "bonferroni"] = "bh"
    """Multiple-testing correction across features: Benjamini-Hochberg or Bonferroni.
    Both hold the chance of any false alarm in a stable window to `alpha`."""

    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    """Smallest KS statistic that counts as drift (largest CDF gap: ten points of rank)."""

    psi_threshold: float = Field(default=0.2, gt=0)
    """Smallest PSI that counts as drift: the conventional "significant" band."""

    wasserstein_threshold: float = Field(default=0.2, gt=0)
    """Smallest Wasserstein distance, in reference standard deviations, that counts."""

    js_threshold: float = Field(default=0.1, gt=0, le=1)
    """Smallest Jensen-Shannon distance (base 2) between category shares that counts."""

    psi_smoothing: float = Field(default=0.5, ge=0)
    """Pseudo-count added to every PSI bin in both samples (keeps empty bins finite)."""

    alert_windows: int = Field(default=5, ge=1)
    """N: the alert rule looks at the last N judged windows."""

    alert_min_drifting: int = Field(default=3, ge=1)
    """M: alert when at least M of the last N judged windows drift."""

    cooldown_windows: int = Field(default=12, ge=0)
    """After an alert, the same model version and feature set stay quiet this many windows."""

    high_severity_share: float = Field(default=0.5, gt=0, le=1)
    """Severity is high when at least this share of the analysed features drift..."""

    high_severity_psi: float = Field(default=0.5, gt=0)
    """...or when a drifting feature's PSI reaches this value; medium otherwise."""

    batch_size: int = Field(default=10000, ge=1)
    """Largest batch the watcher consumes at once (one transaction and checkpoint each)."""

    batch_timeout_ms: int = Field(default=500, ge=1)
    """Longest wait to fill a batch."""

    http_port: int = 8002
    """Port of `/health` and `/metrics`; 0 picks a free one."""

    idle_partition_s: float | None = Field(default=30.0, gt=0)
    """An input partition that delivers nothing for this long (wall clock) is announced
    idle and stops holding windows open; it holds them again once it delivers. None:
    every partition holds windows until its event time passes them."""

    @model_validator(mode="after")
    def _m_of_n(self) -> DriftConfig:
        if self.alert_min_drifting > self.alert_windows:
            raise ValueError("alert_min_drifting (M) must not exceed alert_windows (N)")
        return self
