"""Following a model's production version, for whatever a process loads from it.

Every long-running process serves something derived from the production version: the
scorer its model, the drift watcher its reference profile, the HTTP API its model. They
all follow it the same way:

1. an announcement on `model-events` (when the process listens) says "look now", so a
   promotion reaches every process in about a second;
2. the registry is polled every `poll_s` anyway: it is the source of truth, and an
   announcement can be missed while Kafka is away;
3. a new version is loaded and verified before it replaces the old one; a version that
   fails is refused once (not retried in a loop) and the old one keeps serving.

The swap itself happens when the process calls `refresh()`: between batches for a
consumer, between requests for the API, never inside a unit of work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

from core.errors import StreamscoreError
from core.registry import ModelRegistry
from core.schemas import ModelEvent

T = TypeVar("T")


class Announcements(Protocol):
    """Registry transitions heard since the last call (`core.kafka.model_events`)."""

    def poll(self) -> list[ModelEvent]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Refusal:
    """A production version that could not be loaded, and why."""

    model_name: str
    version: int
    reason: str


@dataclass(frozen=True)
class Followed(Generic[T]):
    version: int
    value: T


Loader = Callable[[ModelRegistry, str, int], T]
"""Loads (and verifies) what the process needs of one version."""


class ProductionFollower(Generic[T]):
    """Holds what was loaded from the production version of one model.

    >>> from pathlib import Path
    >>> import tempfile
    >>> registry = ModelRegistry(Path(tempfile.mkdtemp()))
    >>> follower = ProductionFollower(registry, "churn", lambda r, n, v: f"v{v}")
    >>> follower.refresh(force=True), follower.current
    (False, None)
    """

    def __init__(
        self,
        registry: ModelRegistry,
        name: str,
        load: Loader[T],
        *,
        poll_s: float = 5.0,
        announcements: Announcements | None = None,
    ) -> None:
        self._registry = registry
        self._name = name
        self._load = load
        self._poll_s = poll_s
        self._announcements = announcements
        self._refusal_listeners: list[Callable[[Refusal], None]] = []
        self._current: Followed[T] | None = None
        self._refused: set[int] = set()
        self._checked_at = float("-inf")
        self._log = structlog.get_logger("follower").bind(model_name=name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def current(self) -> T | None:
        return self._current.value if self._current is not None else None

    @property
    def version(self) -> int | None:
        return self._current.version if self._current is not None else None

    def refresh(self, force: bool = False) -> bool:
        """Load the production version if it changed; True when what is held changed.

        Cheap when nothing changed: it drains announcements and, once per `poll_s`,
        reads the registry's small index file.
        """
        heard = self._announcements.poll() if self._announcements is not None else []
        now = time.monotonic()
        if not (force or heard) and now - self._checked_at < self._poll_s:
            return False
        self._checked_at = now
        try:
            version = self._registry.production_version(self._name)
        except StreamscoreError as exc:
            self._log.error("registry_unreadable", error=exc.one_line())
            return False
        if version is None or version in self._refused or version == self.version:
            return False
        try:
            value = self._load(self._registry, self._name, version)
        except StreamscoreError as exc:
            self._refuse(version, exc)
            return False
        previous = self.version
        self._current = Followed(version, value)
        self._log.info("version_loaded", model_version=version, previous_version=previous)
        return True

    def load(self, version: int) -> T:
        """What the loader makes of one given version, without following it (to restore
        state that was built against an older version)."""
        return self._load(self._registry, self._name, version)

    def on_refused(self, listener: Callable[[Refusal], None]) -> None:
        """Call `listener` for every version refused from now on (to report it downstream)."""
        self._refusal_listeners.append(listener)

    def close(self) -> None:
        if self._announcements is not None:
            self._announcements.close()

    def _refuse(self, version: int, exc: StreamscoreError) -> None:
        self._refused.add(version)
        self._log.error(
            "version_refused",
            model_version=version,
            error_type=type(exc).__name__,
            error=exc.one_line(),
            serving_version=self.version,
        )
        for listener in self._refusal_listeners:
            listener(Refusal(self._name, version, exc.one_line()))
