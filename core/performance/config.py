"""Performance monitor settings section (`STREAMSCORE_MONITOR__*`).

The defaults, and why: a window is judged only from ``min_labels`` labelled predictions,
and fails only when a ``confidence`` interval for its metric lies wholly below the
threshold, so a healthy model fails a window with probability at most
``(1 - confidence) / 2``; an alert then needs ``alert_min_drifting`` of the last
``alert_windows`` judged windows to fail.

The threshold is the *higher* of ``floor`` and the version's holdout figure minus
``margin``: a window fails when its quality is below what is acceptable at all *or*
has fallen from what the version was promoted with (issue 11's rule, "either").

The judged metric is ``roc_auc`` with floor 0.70 (the seed's ``performance_threshold``)
by default, not accuracy with the seed's 0.80. On the generated churn data even a
perfectly calibrated model has accuracy 0.794: churn is a coin with a probability, so
no model can be right more often than ``mean(max(p, 1 - p))``. Under the "either" rule
an accuracy floor of 0.80 would therefore fail every window large enough for its
interval to clear 0.794 < 0.80 (from about 30,000 labels a window; smaller windows
would fail at random more often than ``confidence`` promises), and alert on a
healthy model for ever. ROC AUC does not depend on the base rate or the decision
threshold; the calibrated AUC on this data is 0.84 and a trained model's holdout
figure 0.835, so the default threshold is max(0.70, 0.835 - 0.05) = 0.785.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from core.consumer_config import ConsumerConfig
from core.settings_defaults import (
    MONITOR_FLOOR,
    MONITOR_LABEL_DELAY_S,
    MONITOR_MARGIN,
    MONITOR_METRIC,
    MONITOR_WINDOW_SECONDS,
)

JudgedMetric = Literal["accuracy", "roc_auc"]


class PerformanceConfig(ConsumerConfig):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    group_id: str = "streamscore-monitor"
    """Consumer group of the monitor (separate from the scorers' and the drift watcher's)."""

    window_seconds: float = Field(default=MONITOR_WINDOW_SECONDS, gt=0)
    """Tumbling event-time window size, by prediction time. A window closes once the
    watermark reaches its end plus `label_delay_s`, when its labels have had their chance."""

    label_delay_s: float = Field(default=MONITOR_LABEL_DELAY_S, ge=0)
    """How long, in event time, a prediction waits for its outcome (and an outcome for
    its prediction) before it is counted unlabelled (orphaned). A prediction and an
    outcome stamped at most this far apart, that instant included, always pair, whichever
    is read first. Set it to the longest label delay you want counted; `streamscore
    produce` sends outcomes after 5 s. 0 is for labels known at once: only an outcome
    stamped the same millisecond as its prediction is sure to pair; a later one pairs
    only if it is read before both topics' event time has passed the prediction (a race),
    else the prediction counts unlabelled. Outcomes that come before any prediction of
    their partition (a scorer started late or behind) wait for them at any delay."""

    max_buffer: int = Field(default=25_000, ge=1)
    """Most join entries (waiting halves and tombstones) held per input partition; beyond
    it the oldest is evicted (counted as `capped`). Size it above the partition's
    prediction rate x (`label_delay_s` + the outcomes' delay), so only an outage reaches
    it. The bound is the checkpoint's: each batch writes the partition's whole buffer as
    one record, and Kafka refuses records over `message.max.bytes` (1 MB by default). An
    entry costs 9-10 bytes compressed with `streamscore produce`'s event ids and about 32
    with random UUIDs, so 25,000 entries stay under 800 kB either way (and about 11 MB
    in memory)."""

    min_labels: int = Field(default=200, ge=1)
    """Windows with fewer labelled predictions are reported but not judged. At 200 the
    99 % Wilson interval around an accuracy of 0.8 is 0.72-0.86, so only a real
    drop can clear the threshold, and a 30-label window can never alert by chance."""

    metric: JudgedMetric = MONITOR_METRIC
    """The figure judged: roc_auc, or accuracy (at each prediction's own threshold). The
    baseline is the version's holdout figure of the same name in the registry."""

    floor: float = Field(default=MONITOR_FLOOR, ge=0, le=1)
    """Absolute floor of the judged metric: a window below it fails whatever the
    version's holdout figure (0.70 is the seed's performance_threshold for ROC AUC; an
    accuracy floor must stay below what a calibrated model reaches, see above)."""

    margin: float = Field(default=MONITOR_MARGIN, ge=0, le=1)
    """How far below its own holdout figure (registry metadata) a version may fall before
    a window fails, even above the floor."""

    confidence: float = Field(default=0.99, gt=0.5, lt=1)
    """Two-sided confidence of the window's interval (Wilson for accuracy, DeLong with a
    logit transform for roc_auc). A window fails only when the whole interval is below
    the threshold: a healthy window fails with probability at most (1 - confidence) / 2."""

    alert_windows: int = Field(default=3, ge=1)
    """N: the alert rule looks at the last N judged windows."""

    alert_min_drifting: int = Field(default=2, ge=1)
    """M: alert when at least M of the last N judged windows fail. Two failing windows
    at 0.005 each make a false alert about 3 · 0.005² = 7.5e-5 per window."""

    cooldown_windows: int = Field(default=12, ge=0)
    """After an alert, the same model version and metric stay quiet this many windows."""

    high_severity_drop: float = Field(default=0.10, gt=0, le=1)
    """Severity is high when the window's metric is at least this far below the
    threshold; medium otherwise."""

    http_port: int = 8003
    """Port of `/health` and `/metrics`; 0 picks a free one."""

    batch_size: int = Field(default=50000, ge=1)
    """Largest batch the monitor consumes at once (one transaction and checkpoint each).
    Every batch rewrites the checkpoints of the partitions it touched, whose cost grows
    with the join buffer, not the batch: large batches amortise it over a backlog (50,000
    cost 25 % less CPU per record than 20,000, docs/benchmarks.md). Live, a batch is
    whatever has arrived, so this only matters under a backlog."""

    batch_timeout_ms: int = Field(default=1000, ge=1)
    """Longest wait to fill a batch (and so the longest a closed window waits to be
    published under light load)."""

    idle_partition_s: float | None = Field(default=30.0, gt=0)
    """An input partition that delivers nothing for this long (wall clock) is announced
    idle to the group's judge and stops holding windows open until it delivers again.
    None: every partition holds windows until its event time passes them."""

    @model_validator(mode="after")
    def _m_of_n(self) -> PerformanceConfig:
        if self.alert_min_drifting > self.alert_windows:
            raise ValueError("alert_min_drifting (M) must not exceed alert_windows (N)")
        return self
