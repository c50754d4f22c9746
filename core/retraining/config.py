"""Retrainer settings section (meant to be `Settings.retrain`, `STREAMSCORE_RETRAIN__*`).

Defaults and why:

- `min_severity = "medium"`: every drift alert already passed an M-of-N rule and an
  effect-size threshold, so a medium alert is real evidence; "high" would wait longer.
- `cooldown_s = 1800`: a freshly promoted model needs its own drift windows and fresh
  outcomes before anyone can tell whether it too has drifted; retraining sooner would
  learn from nearly the same data again.
- `min_labelled_rows = 2000`: with a 20 % holdout that leaves 400 rows to judge on, where
  the bootstrap interval of an AUC difference between close models is still about
  ±0.01, the margin itself; fewer rows cannot show non-inferiority.
- `gate_floor = 0.70` ROC AUC and `gate_margin = 0.01`: the challenger must be useful on
  its own and not measurably worse than the champion on the same rows (see `gate`).
- `rejection_cooldown_s = 600`: a rejection means the labelled data in the lookback does
  not support a better model; reading it back a minute later gives nearly the same rows
  and the same verdict, so further alerts on that model wait this long.
- `batch_size = 100`, `batch_timeout_ms = 500`: alerts are rare and small; latency is
  dominated by the training, not by the poll.

Which events are valid is not a setting of this section: `validation.max_event_bytes`
is shared with the scorer and the drift watcher, so every reader of the input applies
the same rules and a dead-lettered event never trains a model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from core.consumer_config import ConsumerConfig
from core.model_kinds import DEFAULT_KIND, ModelKind

GateMetric = Literal["roc_auc", "accuracy", "f1", "log_loss", "brier"]
Severity = Literal["low", "medium", "high"]


class RetrainConfig(ConsumerConfig):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    group_id: str = "streamscore-retrainer"
    """Consumer group of the retrainer's alert consumer (read-backs use no group). One
    retrainer runs per group: a second one would only wait as a standby."""

    batch_size: int = Field(default=100, ge=1)
    """Alerts consumed and answered in one transaction."""

    batch_timeout_ms: int = Field(default=500, ge=1)
    """Longest wait for alerts before the loop checks on a training in flight."""

    http_port: int = 8004
    """Port of `/health` and `/metrics`; 0 picks a free one."""

    alert_topics: list[str] | None = None
    """Topics of the alerts acted on. None: `topics.alerts` (drift) and
    `topics.performance_alerts`, whatever those are named."""

    auto_promote: bool = True
    """A challenger that passes the gate goes to staging, then production. False: staging
    only (decision `trained`), and a person promotes it."""

    rejection_cooldown_s: float = Field(default=600.0, ge=0)
    """After a rejected challenger, alerts on the same model are skipped for this long."""

    min_severity: Severity = "medium"
    """Alerts below this severity are skipped (low < medium < high)."""

    cooldown_s: float = Field(default=1800.0, ge=0)
    """After a promotion, alerts on the same model are skipped for this long."""

    lookback_s: float | None = Field(default=86_400.0, gt=0)
    """Train on events of the last this-many seconds (None: no time limit)."""

    max_events: int | None = Field(default=200_000, ge=1)
    """Keep at most the newest this-many labelled events (None: no count limit)."""

    min_labelled_rows: int = Field(default=2000, ge=50)
    """Fewer labelled rows than this is "rejected: not enough labelled data"."""

    min_class_rows: int = Field(default=20, ge=2)
    """Each class needs at least this many labelled rows, in training and in holdout."""

    holdout_share: float = Field(default=0.2, gt=0, lt=1)
    """Newest share of the labelled rows, by event time, held out for the gate."""

    model_kind: ModelKind = DEFAULT_KIND
    """Estimator of the challenger (see `core.training`)."""

    seed: int = 0
    """Seeds the estimator and the bootstrap, so a retrain is reproducible from its data."""

    gate_metric: GateMetric = "roc_auc"
    """Metric of both gate conditions (the floor and non-inferiority)."""

    gate_floor: float = 0.70
    """Absolute level the challenger must reach on the holdout: at least this for
    roc_auc, accuracy and f1; at most this for log_loss and brier."""

    gate_margin: float = Field(default=0.01, ge=0)
    """Non-inferiority margin: the challenger may be worse than the champion by less than
    this (in the metric's units) at the gate's confidence, and still pass."""

    gate_confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """One-sided confidence of the non-inferiority bound."""

    bootstrap_resamples: int = Field(default=1000, ge=100)
    """Paired bootstrap resamples of the holdout."""
