"""One closed window, judged: the report, the alert decision and the alert itself.

The drift watcher's decisions, kept apart from its Kafka loop so they are tested
without a broker: what the window's verdict is, whether the alert policy raises an
alert for it, and the alert record (with its HTML report written next to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from core.drift.alert import DriftAlert
from core.drift.config import DriftConfig
from core.drift.evaluate import evaluate
from core.drift.html import render_html
from core.drift.policy import AlertDecision, AlertPolicy
from core.drift.profile import ReferenceProfile
from core.drift.report import DriftReport
from core.drift.windows import Window
from core.registry import ModelRegistry

Verdict = Literal["skipped", "drift", "stable"]


@dataclass(frozen=True)
class Reference:
    """A production version's reference profile, as windows are judged against it."""

    version: int
    profile: ReferenceProfile
    digest: str

    @classmethod
    def load(cls, registry: ModelRegistry, name: str, version: int) -> Reference:
        """The version's profile, checked against its recorded digest by the registry."""
        info = registry.get(name, version)
        profile = ReferenceProfile.from_dict(registry.reference_profile(name, version))
        return cls(version, profile, info.profile_digest)


@dataclass(frozen=True)
class Judgement:
    window: Window
    report: DriftReport
    decision: AlertDecision
    alert: DriftAlert | None
    """Set when the policy raised an alert for this window."""

    @property
    def verdict(self) -> Verdict:
        if not self.report.judged:
            return "skipped"
        return "drift" if self.report.drift_detected else "stable"


def judge(
    window: Window,
    reference: Reference,
    policy: AlertPolicy,
    config: DriftConfig,
    *,
    model_name: str,
) -> Judgement:
    """Compare `window` with `reference` and let `policy` decide (it keeps its history)."""
    report = evaluate(reference.profile, window.state, config)
    decision = policy.observe(report, model_name=model_name, model_version=reference.version)
    alert = None
    if decision.alert and decision.severity is not None:
        alert = DriftAlert.from_report(
            report,
            model_name=model_name,
            model_version=reference.version,
            window_start=datetime.fromtimestamp(window.start, UTC),
            window_end=datetime.fromtimestamp(window.end, UTC),
            severity=decision.severity,
            profile_digest=reference.digest,
            offsets=window.offset_ranges(),
            windows_drifting=decision.windows_drifting,
            windows_considered=decision.windows_considered,
        )
    return Judgement(window, report, decision, alert)


def write_report(judgement: Judgement, folder: Path) -> DriftAlert:
    """Write the alert's HTML report into `folder`; the alert, now naming its path."""
    alert = judgement.alert
    if alert is None:
        raise ValueError("only an alert has a report")
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / f"drift-{alert.alert_id}.html").resolve()
    window = judgement.window
    html = render_html(
        judgement.report,
        title=f"Drift alert · {alert.model_name} v{alert.model_version}",
        reference_label="training reference",
        current_label=f"window {clock(window.start)} to {clock(window.end)}",
    )
    path.write_text(html, encoding="utf-8")
    return alert.model_copy(update={"report_path": str(path)})


def clock(seconds: float) -> str:
    """A window bound as people read it in a report title."""
    if not np.isfinite(seconds):
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(seconds: float) -> str:
    """A window bound for logs (`-` for an unbounded count window)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat() if np.isfinite(seconds) else "-"
