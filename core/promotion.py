"""Changing what is in production, and telling every running process.

One function per transition so the CLI, `streamscore train`, the demo and the retrainer
change production the same way: the registry first (the source of truth), then a
`model-events` record so scorers and watchers swap within about a second. An
announcement that cannot be delivered is reported, never fatal: followers also poll
the registry (`core.follower`), so they catch up a poll interval later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from core.registry import ModelRegistry, ModelVersion
from core.schemas import ModelEvent

Announce = Callable[[ModelEvent], str | None]
"""Publishes a model event; returns why it could not, or None when it was delivered."""


def no_announcement(event: ModelEvent) -> str | None:
    """For a registry nobody follows live (offline tools, tests)."""
    return None


@dataclass(frozen=True)
class Transition:
    """What a promotion or rollback did, and whether running processes were told."""

    version: ModelVersion
    stage: Literal["production", "staging"]
    previous: int | None
    """What the stage pointed at before."""
    event: ModelEvent | None
    """The announcement (production changes only)."""
    announce_problem: str | None = None
    """Why the announcement was not delivered, if it was not."""


def promote(
    registry: ModelRegistry,
    name: str,
    version: int,
    *,
    stage: Literal["production", "staging"] = "production",
    reason: str = "",
    announce: Announce,
) -> Transition:
    before = _stage_version(registry, name, stage)
    promoted = registry.promote(name, version, stage, reason)
    return _announced(announce, "promoted", promoted, stage, before, reason)


def rollback(
    registry: ModelRegistry, name: str, *, reason: str = "", announce: Announce
) -> Transition:
    before = registry.production_version(name)
    current = registry.rollback(name, reason)
    return _announced(announce, "rolled_back", current, "production", before, reason)


def reject(
    registry: ModelRegistry, name: str, version: int, *, reason: str = "", announce: Announce
) -> str | None:
    """Record a refused challenger (`rejected` in the history, no stage moves) and announce
    it on `model-events`; returns why the announcement failed, or None. Followers ignore
    the event (production is unchanged); it is there for people and audits."""
    before = registry.production_version(name)
    registry.reject(name, version, reason)
    event = ModelEvent(
        event="rejected",
        model_name=name,
        version=version,
        previous_version=before,
        reason=reason,
        at=datetime.now(UTC),
    )
    return announce(event)


def _announced(
    announce: Announce,
    kind: Literal["promoted", "rolled_back"],
    version: ModelVersion,
    stage: Literal["production", "staging"],
    before: int | None,
    reason: str,
) -> Transition:
    if stage != "production":
        return Transition(version, stage, before, None)
    event = ModelEvent(
        event=kind,
        model_name=version.name,
        version=version.version,
        stage="production",
        previous_version=before,
        reason=reason,
        at=datetime.now(UTC),
    )
    return Transition(version, stage, before, event, announce(event))


def _stage_version(registry: ModelRegistry, name: str, stage: str) -> int | None:
    if stage == "production":
        return registry.production_version(name)
    return next((v.version for v in registry.versions(name) if stage in v.stages), None)
