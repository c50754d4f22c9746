"""The monitor's pure core in one object: join, windows, judgement and alert policy.

The consumer loop hands it every `Prediction` and `Outcome` it reads, advances the
watermark once per batch, publishes what `advance` returns and checkpoints `to_bytes()`
in the batch's transaction. The order inside matters and is kept here, once: the join
evicts what waited ``label_delay_s`` *before* the windows close at end +
``label_delay_s``, so every prediction of a closing window has been paired or counted
unlabelled by then, and only predictions the join accepted (not duplicates, not late)
are counted in a window.

Times are event-time epoch seconds on one clock for both topics. `Prediction` has no
event time of its own, so the caller chooses it (the Kafka record timestamp, say);
outcomes default to their ``observed_at``.

Pairs reach their windows in bulk, one vectorised update per window, when event time
moves (`advance`), at `flush`, `to_bytes` or `settle`: a per-pair update cost about
100 µs. Deferring changes no figure, because the windows' watermark (which alone makes
a pair late) only moves in `advance`, after the deferred pairs are in.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.performance.config import PerformanceConfig
from core.performance.decoding import JoinInput
from core.performance.detector import PerformanceDetector
from core.performance.join import JoinBuffer, Joined, JoinedBatch, JoinStateError, LabelledPair
from core.performance.policy import AlertDecision, PerformanceAlertPolicy
from core.performance.records import PerformanceAlert, PerformanceWindow
from core.performance.windows import ClosedWindow, ModelKey, PerformanceWindows
from core.schemas import Outcome, Prediction


@dataclass(frozen=True)
class WindowResult:
    """A closed window: its `model-performance` record and, if it tipped, an alert."""

    record: PerformanceWindow
    decision: AlertDecision
    alert: PerformanceAlert | None = None


class PerformanceMonitor:
    """Predictions and outcomes in; window records and alerts out.

    >>> from datetime import UTC, datetime
    >>> from core.schemas import Outcome, Prediction
    >>> monitor = PerformanceMonitor(PerformanceConfig(window_seconds=60, label_delay_s=10))
    >>> when = datetime(2026, 1, 1, tzinfo=UTC)
    >>> prediction = Prediction(event_id="e1", customer_id="c1", prediction=1,
    ...     probability=0.8, risk_level="high", model_name="churn", model_version=1,
    ...     scored_at=when)
    >>> monitor.add_prediction(prediction, event_time=when.timestamp()).status
    'waiting'
    >>> outcome = Outcome(event_id="e1", customer_id="c1", churned=1, observed_at=when)
    >>> monitor.add_outcome(outcome).status
    'paired'
    >>> [(r.record.labelled_events, r.record.judged, r.alert)
    ...  for r in monitor.advance(when.timestamp() + 70)]
    [(1, False, None)]
    """

    def __init__(
        self, config: PerformanceConfig, baselines: Mapping[ModelKey, float] | None = None
    ) -> None:
        self.config = config
        self.join = JoinBuffer(label_delay_s=config.label_delay_s, max_entries=config.max_buffer)
        self.windows = PerformanceWindows(
            window_seconds=config.window_seconds, label_delay_s=config.label_delay_s
        )
        self.policy = PerformanceAlertPolicy(config)
        self.baselines: dict[ModelKey, float] = dict(baselines or {})
        """Holdout figure of the judged metric per version (registry metadata)."""
        self._pairs: list[LabelledPair] = []
        """Pairs joined since the last `settle`, not yet in their windows."""
        self._batches: list[JoinedBatch] = []
        """The same, from `add_batch`, as columns."""

    def set_baseline(self, model_name: str, model_version: int, value: float | None) -> None:
        """The version's holdout figure of the judged metric; None: judge by the floor."""
        if value is None:
            self.baselines.pop((model_name, model_version), None)
        else:
            self.baselines[(model_name, model_version)] = float(value)

    def add_prediction(self, prediction: Prediction, event_time: float) -> Joined:
        joined = self.join.add_prediction(
            prediction.event_id,
            model_name=prediction.model_name,
            model_version=prediction.model_version,
            probability=prediction.probability,
            prediction=prediction.prediction,
            event_time=event_time,
        )
        if joined.status in ("waiting", "paired"):
            self.windows.add_prediction(prediction.model_name, prediction.model_version, event_time)
        if joined.pair is not None:
            self._pairs.append(joined.pair)
        return joined

    def add_outcome(self, outcome: Outcome, event_time: float | None = None) -> Joined:
        time = outcome.observed_at.timestamp() if event_time is None else event_time
        joined = self.join.add_outcome(outcome.event_id, label=outcome.churned, event_time=time)
        if joined.pair is not None:
            self._pairs.append(joined.pair)
        return joined

    def add_batch(self, items: Sequence[JoinInput]) -> JoinedBatch:
        """Many halves in arrival order (`core.performance.decoding`): the same as one
        `add_prediction` or `add_outcome` call each, at a fraction of the cost."""
        joined = self.join.add_batch(items)
        names = joined.names
        model = joined.accepted_model
        version = joined.accepted_version
        if model:
            keys = set(zip(model, version, strict=True))
            times = np.asarray(joined.accepted_time, dtype=np.float64)
            for m, v in sorted(keys):
                if len(keys) == 1:
                    chosen = times
                else:
                    chosen = times[(np.asarray(model) == m) & (np.asarray(version) == v)]
                self.windows.add_predictions(names[m], v, chosen)
        if joined.pair_id:
            self._batches.append(joined)
        return joined

    def settle(self) -> PerformanceMonitor:
        """Put the pairs joined so far into their windows (and the cumulative states)."""
        if self._pairs:
            pairs, self._pairs = self._pairs, []
            self.windows.add_pairs(pairs)
        if self._batches:
            batches, self._batches = self._batches, []
            for joined in batches:
                self._settle_columns(joined)
        return self

    def _settle_columns(self, joined: JoinedBatch) -> None:
        model = np.asarray(joined.pair_model, dtype=np.int64)
        version = np.asarray(joined.pair_version, dtype=np.int64)
        columns = (
            np.asarray(joined.pair_predicted_at, dtype=np.float64),
            np.asarray(joined.pair_probability, dtype=np.float64),
            np.asarray(joined.pair_prediction, dtype=np.int64),
            np.asarray(joined.pair_label, dtype=np.int64),
        )
        keys = set(zip(joined.pair_model, joined.pair_version, strict=True))
        for m, v in sorted(keys):
            if len(keys) == 1:
                chosen = columns
            else:
                mask = (model == m) & (version == v)
                chosen = tuple(c[mask] for c in columns)
            self.windows.add_labelled(joined.names[m], v, *chosen)

    def advance(self, watermark: float) -> list[WindowResult]:
        """Move event time on: evict what waited long enough, then judge closed windows."""
        self.settle()
        self.join.advance(watermark)
        return [self._judge(w) for w in self.windows.close(watermark)]

    def flush(self) -> list[WindowResult]:
        """Judge every open window now (end of a replay); coverage may be incomplete."""
        self.settle()
        return [self._judge(w) for w in self.windows.flush()]

    def _judge(self, window: ClosedWindow) -> WindowResult:
        baseline = self.baselines.get((window.model_name, window.model_version))
        return judge(window, self.config, self.policy, baseline)

    def to_bytes(self) -> bytes:
        """One checkpoint of the join buffer, the windows and the policy."""
        self.settle()
        d = {
            "join": base64.b64encode(self.join.to_bytes()).decode(),
            "windows": base64.b64encode(self.windows.to_bytes()).decode(),
            "policy": self.policy.to_dict(),
        }
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        config: PerformanceConfig,
        baselines: Mapping[ModelKey, float] | None = None,
    ) -> PerformanceMonitor:
        """Resume from a checkpoint; the join delay and window size are the checkpoint's."""
        try:
            d = json.loads(data)
            monitor = cls(config, baselines)
            monitor.join = JoinBuffer.from_bytes(base64.b64decode(d["join"]))
            monitor.windows = PerformanceWindows.from_bytes(base64.b64decode(d["windows"]))
            monitor.policy = PerformanceAlertPolicy.from_dict(d["policy"], config)
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise JoinStateError(f"monitor checkpoint is unreadable: {exc!r}") from None
        return monitor


def judge(
    window: ClosedWindow,
    config: PerformanceConfig,
    policy: PerformanceAlertPolicy,
    baseline: float | None,
) -> WindowResult:
    """One closed window's verdict, the policy's decision and the records to publish.

    Public so that windows merged from several partitions' monitors
    (`core.performance.partitions`) are judged exactly as one monitor judges its own.
    """
    verdict = PerformanceDetector.from_config(config, baseline).update(window.state).verdict
    decision = policy.observe(
        verdict, model_name=window.model_name, model_version=window.model_version
    )
    alert = PerformanceAlert.from_verdict(window, verdict, decision) if decision.alert else None
    return WindowResult(PerformanceWindow.from_window(window, verdict), decision, alert)
