"""The API's side of the one scoring path: events in, `Scored` records and answers out.

`ScoringService.score` reads the follower's current version once per batch and hands the
batch to `core.scoring.BatchScorer`, exactly as the Kafka scorer does; what it adds is
HTTP's naming (request ids, customers without an id) and the per-request latency of each
prediction log. Both `/predict` (alone or adaptively batched) and `/predict/batch` go
through it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pydantic_core
import structlog

from api.errors import NoModelServing
from api.events import ApiEvent
from api.log_publisher import LogPublisher
from api.metrics import ApiMetrics
from api.schemas import EXAMPLE_EVENT
from core.follower import ProductionFollower, Refusal
from core.registry import ModelRegistry
from core.scoring import BatchScorer, LoadedModel, Scored, churn_probabilities
from core.validation import InvalidEvent, parse_event

SERVICE = "api"

_WARM_UP = parse_event(pydantic_core.to_json(EXAMPLE_EVENT), 4096)


def load_warmed(registry: ModelRegistry, name: str, version: int) -> LoadedModel:
    """`LoadedModel.load`, then one event scored: the predictor's first call checks its
    fast path against the Pipeline (several ms), and that belongs to the loading thread,
    not to the first request after a swap."""
    loaded = LoadedModel.load(registry, name, version)
    churn_probabilities(loaded, [_WARM_UP])
    return loaded


@dataclass(frozen=True, slots=True)
class Pending:
    """An event waiting for its model call, and when its request arrived."""

    event: ApiEvent
    started: float


@dataclass(frozen=True, slots=True)
class Answer:
    scored: Scored
    event: ApiEvent
    model: LoadedModel


class ScoringService:
    def __init__(
        self,
        follower: ProductionFollower[LoadedModel],
        scorer: BatchScorer,
        metrics: ApiMetrics,
        publisher: LogPublisher | None,
    ) -> None:
        self.follower = follower
        self._scorer = scorer
        self._metrics = metrics
        self._publisher = publisher
        self._log = structlog.get_logger(SERVICE)
        follower.on_refused(self._on_refused)

    @property
    def model_name(self) -> str:
        return self.follower.name

    def score(self, batch: Sequence[Pending]) -> list[Answer]:
        """One model call for the batch, with the version current when it starts."""
        loaded = self.follower.current
        if loaded is None:
            raise NoModelServing(self.follower.name)
        now = datetime.now(UTC)
        scored = self._scorer.score(
            loaded,
            [p.event.event_id for p in batch],
            [p.event.event for p in batch],
            now=now,
            started=min(p.started for p in batch),
        )
        done = time.perf_counter()
        answers = []
        for pending, one in zip(batch, scored, strict=True):
            log = one.log
            log["latency_ms"] = round((done - pending.started) * 1000, 3)
            key = None
            if pending.event.customer_id is None:
                log.get("input", {}).pop("customer_id", None)
            else:
                key = pending.event.customer_id.encode()
            if self._publisher is not None:
                self._publisher.publish(log, key)
            answers.append(Answer(one, pending.event, loaded))
        self._metrics.model_batch_size.observe(len(batch))
        return answers

    def invalid(self, event_id: str, error: InvalidEvent) -> None:
        """Record an event that failed validation on the logs topic, as the scorer does."""
        if self._publisher is not None:
            log = self._scorer.invalid_event_log(
                event_id, error.error_type, str(error), now=datetime.now(UTC)
            )
            self._publisher.publish(log, None)

    def _on_refused(self, refusal: Refusal) -> None:
        self._metrics.models_refused.inc()
        if self._publisher is not None:
            log = self._scorer.refused_model_log(
                refusal.model_name, refusal.version, refusal.reason, now=datetime.now(UTC)
            )
            self._publisher.publish(log, refusal.model_name.encode())
