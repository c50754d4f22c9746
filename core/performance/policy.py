"""When failing windows become an alert: M of the last N judged windows, then a cooldown.

Follows the drift alert policy (`core.drift.policy`). One failing window is weak
evidence: a model exactly at its threshold fails a window with probability about
``(1 - confidence) / 2`` = 0.005 at the default confidence, so requiring M = 2 of the
last N = 3 judged windows makes a false alert about C(3,2)·0.005² = 7.5e-5 per window,
while a real drop that fails each window with probability 0.9 alerts within three
windows with probability 0.97. Windows that were not judged (too few labels) are
skipped, not counted as healthy.

After an alert, the same (model name, model version, metric) stays quiet for
``cooldown_windows`` windows, so a persisting drop is reported once rather than every
window; a new model version is news and alerts at once.

Severity is ``high`` when the triggering window's metric is at least
``high_severity_drop`` below the threshold, ``medium`` otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.performance.config import PerformanceConfig
from core.performance.detector import Verdict

Severity = Literal["medium", "high"]


@dataclass(frozen=True)
class AlertDecision:
    """What the policy made of one window's verdict."""

    alert: bool
    reason: str
    severity: Severity | None = None
    windows_failing: int = 0
    windows_considered: int = 0


class PerformanceAlertPolicy:
    """Turns window verdicts into alerts; its state checkpoints as a dict.

    >>> from core.performance.detector import Verdict
    >>> def window(failing: bool) -> Verdict:
    ...     return Verdict(True, "", "accuracy", 0.75, 500, 0.6 if failing else 0.8,
    ...                    (0.55, 0.65) if failing else (0.75, 0.85), 0.8, failing)
    >>> policy = PerformanceAlertPolicy(PerformanceConfig())
    >>> [policy.observe(window(f), model_name="churn", model_version=1).alert
    ...  for f in (True, False, False, True, True, True)]
    [False, False, False, False, True, False]
    """

    def __init__(self, config: PerformanceConfig) -> None:
        self.m = config.alert_min_drifting
        self.n = config.alert_windows
        self.cooldown_windows = config.cooldown_windows
        self.high_drop = config.high_severity_drop
        self._reset()

    def _reset(self) -> None:
        self._history: dict[tuple[str, int], deque[bool]] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._last_alert: dict[tuple[str, int, str], int] = {}

    def observe(self, verdict: Verdict, *, model_name: str, model_version: int) -> AlertDecision:
        """Record one window's verdict and decide whether it raises an alert."""
        model = (model_name, model_version)
        tick = self._seen.get(model, 0) + 1
        self._seen[model] = tick
        if not verdict.judged:
            return AlertDecision(False, "window not judged: " + verdict.reason)
        history = self._history.setdefault(model, deque(maxlen=self.n))
        history.append(verdict.failing)
        failing = sum(history)

        def decide(alert: bool, reason: str, severity: Severity | None = None) -> AlertDecision:
            return AlertDecision(alert, reason, severity, failing, len(history))

        if not verdict.failing:
            return decide(False, "window meets its threshold or is not confidently below it")
        if failing < self.m:
            return decide(
                False, f"{failing} of the last {len(history)} windows fail, alert needs {self.m}"
            )
        key = (model_name, model_version, verdict.metric)
        last = self._last_alert.get(key)
        if last is not None and tick - last <= self.cooldown_windows:
            return decide(False, f"cooling down: alerted {tick - last} windows ago")
        self._last_alert[key] = tick
        return decide(
            True, f"{failing} of the last {len(history)} windows fail", self.severity(verdict)
        )

    def severity(self, verdict: Verdict) -> Severity:
        """high: the window's metric is at least ``high_severity_drop`` below threshold."""
        if verdict.value is not None and verdict.value <= verdict.threshold - self.high_drop:
            return "high"
        return "medium"

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [[n, v, list(h)] for (n, v), h in sorted(self._history.items())],
            "seen": [[n, v, t] for (n, v), t in sorted(self._seen.items())],
            "last_alert": [[n, v, m, t] for (n, v, m), t in sorted(self._last_alert.items())],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], config: PerformanceConfig) -> PerformanceAlertPolicy:
        policy = cls(config)
        for name, version, hist in d["history"]:
            policy._history[(name, version)] = deque((bool(x) for x in hist), maxlen=policy.n)
        for name, version, tick in d["seen"]:
            policy._seen[(name, version)] = int(tick)
        for name, version, metric, tick in d["last_alert"]:
            policy._last_alert[(name, version, metric)] = int(tick)
        return policy
