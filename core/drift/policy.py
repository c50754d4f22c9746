"""When a drifting window becomes an alert: M of the last N windows, then a cooldown.

One drifting window is weak evidence: at the default alpha of 0.01 a stable stream
still produces about one falsely drifting window in a hundred. Requiring M = 3 of the
last N = 5 judged windows makes a false alert need three such windows close together,
about C(5,3)·alpha³ = 1e-5 per window if windows are independent, while a real,
sustained drift that each window detects with probability 0.8 alerts within five
windows with probability 0.94. Windows too small to judge are skipped, not counted as
stable.

After an alert, the same (model name, model version, drifting feature set) stays quiet
for ``cooldown_windows`` windows, so a drift that persists is reported once rather than
every window; a new model version or a different set of drifting features is news and
alerts at once.

Severity is ``high`` when at least ``high_severity_share`` of the analysed features
drift in the triggering window, or when a drifting feature's PSI reaches
``high_severity_psi`` (a large shift even on one feature); otherwise ``medium``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.drift.config import DriftConfig
from core.drift.report import DriftReport

Severity = Literal["medium", "high"]


@dataclass(frozen=True)
class AlertDecision:
    """What the policy made of one window."""

    alert: bool
    reason: str
    severity: Severity | None = None
    drifting_features: tuple[str, ...] = ()
    windows_drifting: int = 0
    windows_considered: int = 0


class AlertPolicy:
    """Turns a stream of window reports into alerts; its state checkpoints as a dict.

    >>> from core.drift.config import DriftConfig
    >>> from core.drift.report import DriftReport, FeatureResult
    >>> def window(drift: bool) -> DriftReport:
    ...     f = FeatureResult("age", "numeric", 1000, 600, 0, {}, {}, drift=drift)
    ...     return DriftReport((f,), 1000, 600, True, False, 0.01, "bh")
    >>> policy = AlertPolicy(DriftConfig())
    >>> [policy.observe(window(d), model_name="churn", model_version=1).alert
    ...  for d in (True, False, True, True, True)]
    [False, False, False, True, False]
    """

    def __init__(self, config: DriftConfig) -> None:
        self.m = config.alert_min_drifting
        self.n = config.alert_windows
        self.cooldown_windows = config.cooldown_windows
        self.high_share = config.high_severity_share
        self.high_psi = config.high_severity_psi
        self._reset()

    def _reset(self) -> None:
        self._history: dict[tuple[str, int], deque[bool]] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._last_alert: dict[tuple[str, int, frozenset[str]], int] = {}

    def observe(self, report: DriftReport, *, model_name: str, model_version: int) -> AlertDecision:
        """Record one window's report and decide whether it raises an alert."""
        model = (model_name, model_version)
        tick = self._seen.get(model, 0) + 1
        self._seen[model] = tick
        if not report.judged:
            return AlertDecision(False, "window not judged: " + report.note)
        history = self._history.setdefault(model, deque(maxlen=self.n))
        history.append(report.drift_detected)
        drifting = sum(history)
        features = tuple(report.drifting_features)

        def decide(alert: bool, reason: str, severity: Severity | None = None) -> AlertDecision:
            return AlertDecision(alert, reason, severity, features, drifting, len(history))

        if not report.drift_detected:
            return decide(False, "window stable")
        if drifting < self.m:
            return decide(
                False, f"{drifting} of the last {len(history)} windows drift, alert needs {self.m}"
            )
        key = (model_name, model_version, frozenset(features))
        last = self._last_alert.get(key)
        if last is not None and tick - last <= self.cooldown_windows:
            return decide(False, f"cooling down: same features alerted {tick - last} windows ago")
        self._last_alert[key] = tick
        return decide(
            True, f"{drifting} of the last {len(history)} windows drift", self.severity(report)
        )

    def severity(self, report: DriftReport) -> Severity:
        """high: a large share of features drift, or one drifts with a large PSI."""
        analysed = max(report.features_analysed, 1)
        if len(report.drifting_features) / analysed >= self.high_share:
            return "high"
        for feature in report.features:
            if feature.drift and any(
                t.name == "psi" and t.statistic >= self.high_psi for t in feature.tests
            ):
                return "high"
        return "medium"

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [[n, v, list(h)] for (n, v), h in sorted(self._history.items())],
            "seen": [[n, v, t] for (n, v), t in sorted(self._seen.items())],
            "last_alert": [
                [n, v, sorted(f), t] for (n, v, f), t in sorted(
                    self._last_alert.items(), key=lambda kv: (kv[0][0], kv[0][1], sorted(kv[0][2]))
                )
            ],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], config: DriftConfig) -> AlertPolicy:
        policy = cls(config)
        for name, version, hist in d["history"]:
            policy._history[(name, version)] = deque((bool(x) for x in hist), maxlen=policy.n)
        for name, version, tick in d["seen"]:
            policy._seen[(name, version)] = int(tick)
        for name, version, feats, tick in d["last_alert"]:
            policy._last_alert[(name, version, frozenset(feats))] = int(tick)
        return policy
