"""What the demo shows while it runs: one snapshot of the loop, as a rich view or a line.

A snapshot is plain data (built by `streamscore.live_feed` from the processes' `/metrics`
and the output topics), and both renderings are pure functions of it, so what a person
sees is tested without Kafka or a terminal.

>>> snap = DemoSnapshot(elapsed_s=12.5, step="Publish", events_in_per_s=4980.0,
...     events_out_per_s=4870.0, consumed=40_000, scored=39_200, serving_version=1,
...     lag={"scorer": 120}, dead_letters={"schema": 8}, live_auc={1: 0.81})
>>> plain_line(snap)
'[  12.5 s] in 4,980/s out 4,870/s | serving v1 | lag 120 | dlq 8 | AUC v1 0.810'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

MAX_LINES = 4
"""Alerts and decisions shown: the newest few (the summary has them all)."""


@dataclass(frozen=True)
class FeatureDrift:
    """One feature in the drift watcher's latest judged window."""

    name: str
    psi: float
    drifting: bool


@dataclass(frozen=True)
class AlertLine:
    kind: Literal["drift", "performance"]
    severity: str
    model_version: int
    detail: str
    """Drift: the drifting features; performance: the metric against its threshold."""


@dataclass(frozen=True)
class DecisionLine:
    outcome: str
    reason: str
    challenger_version: int | None = None


@dataclass(frozen=True)
class DemoSnapshot:
    """The loop at one moment, as the demo's processes report it."""

    elapsed_s: float
    step: str
    """The demo's current narrated step."""
    events_in_per_s: float = 0.0
    """Records the scorer consumed per second, over the last couple of seconds."""
    events_out_per_s: float = 0.0
    """Predictions the scorer published per second."""
    consumed: int = 0
    scored: int = 0
    serving_version: int | None = None
    lag: Mapping[str, int] = field(default_factory=dict)
    """Per process: records between its committed position and the partition ends."""
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    """Dead-lettered events by reason (the error type)."""
    drift: tuple[FeatureDrift, ...] = ()
    drift_windows: Mapping[str, int] = field(default_factory=dict)
    """Windows the drift watcher closed, by verdict."""
    alerts: tuple[AlertLine, ...] = ()
    decisions: tuple[DecisionLine, ...] = ()
    live_auc: Mapping[int, float] = field(default_factory=dict)
    """Per model version: ROC AUC over every labelled prediction so far (the monitor)."""


def render(s: DemoSnapshot) -> RenderableType:
    """The live view: throughput and health on top, then drift, quality and the loop."""
    title = f"streamscore demo · {s.elapsed_s:.1f} s"
    return Group(
        Panel(Group(Text(s.step, style="bold cyan"), _flow(s)), title=title, title_align="left"),
        _side_by_side(
            Panel(_drift(s), title="Drift, latest judged window (PSI)", title_align="left"),
            Panel(_quality(s), title="Live ROC AUC per version", title_align="left"),
        ),
        Panel(_loop(s), title="Alerts and retraining", title_align="left"),
    )


def plain_line(s: DemoSnapshot) -> str:
    """One progress line for a log or CI: the figures that move, nothing that doesn't."""
    parts = [
        f"[{s.elapsed_s:6.1f} s] in {s.events_in_per_s:,.0f}/s out {s.events_out_per_s:,.0f}/s",
        f"serving {_version(s.serving_version)}",
        f"lag {sum(s.lag.values()):,}",
        f"dlq {sum(s.dead_letters.values()):,}",
    ]
    drifting = [f.name for f in s.drift if f.drifting]
    if drifting:
        parts.append("drifting " + ", ".join(drifting))
    if s.alerts:
        kinds = [a.kind for a in s.alerts]
        parts.append(
            "alerts " + ", ".join(f"{k} {kinds.count(k)}" for k in ("drift", "performance")
                                  if k in kinds)
        )  # fmt: skip
    if s.decisions:
        last = s.decisions[-1]
        parts.append(f"retrain {last.outcome}{_challenger(last)}")
    if s.live_auc:
        parts.append("AUC " + " ".join(f"v{v} {auc:.3f}" for v, auc in sorted(s.live_auc.items())))
    return " | ".join(parts)


def _flow(s: DemoSnapshot) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column()
    grid.add_row(
        "events in", f"{s.events_in_per_s:,.0f}/s", f"{s.consumed:,} consumed by the scorer"
    )
    grid.add_row("predictions out", f"{s.events_out_per_s:,.0f}/s", f"{s.scored:,} scored")
    grid.add_row("serving", _version(s.serving_version), "production model the scorer uses")
    lag = " · ".join(f"{name} {n:,}" for name, n in sorted(s.lag.items())) or "-"
    grid.add_row("consumer lag", f"{sum(s.lag.values()):,}", lag)
    dead = " · ".join(
        f"{reason} {n:,}" for reason, n in sorted(s.dead_letters.items(), key=lambda kv: -kv[1])
    )
    grid.add_row("dead letters", f"{sum(s.dead_letters.values()):,}", dead or "-")
    return grid


def _drift(s: DemoSnapshot) -> RenderableType:
    if not s.drift:
        return Text("no window judged yet", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    table.add_column()
    for f in s.drift:
        style = "bold red" if f.drifting else ""
        table.add_row(
            Text(f.name, style=style),
            f"{f.psi:.3f}",
            Text("drifting" if f.drifting else "", style=style),
        )
    windows = ", ".join(f"{verdict} {n}" for verdict, n in sorted(s.drift_windows.items()))
    return Group(table, Text(f"windows closed: {windows or 'none'}", style="dim"))


def _quality(s: DemoSnapshot) -> RenderableType:
    if not s.live_auc:
        return Text("waiting for outcomes", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(justify="right")
    for version, auc in sorted(s.live_auc.items()):
        serving = " (serving)" if version == s.serving_version else ""
        table.add_row(f"v{version}{serving}", f"{auc:.3f}")
    return table


def _loop(s: DemoSnapshot) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for a in s.alerts[-MAX_LINES:]:
        table.add_row(
            Text(f"{a.kind} alert", style="yellow"),
            f"{a.severity} on v{a.model_version}: {a.detail}",
        )
    for d in s.decisions[-MAX_LINES:]:
        style = "green" if d.outcome == "promoted" else ""
        table.add_row(Text(f"retrain {d.outcome}", style=style), d.reason)
    if not s.alerts and not s.decisions:
        return Text("no alert yet: the retrainer is waiting", style="dim")
    return table


def _side_by_side(left: RenderableType, right: RenderableType) -> Table:
    grid = Table.grid(expand=True)
    grid.add_column(ratio=3)
    grid.add_column(ratio=2)
    grid.add_row(left, right)
    return grid


def _version(version: int | None) -> str:
    return f"v{version}" if version else "none"


def _challenger(d: DecisionLine) -> str:
    return f" (challenger v{d.challenger_version})" if d.challenger_version is not None else ""
