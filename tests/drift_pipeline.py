"""The drift watchers and their judge wired by hand, without Kafka: records in, the
judge's windows and alerts out. What several watchers over one stream must agree with,
whoever owns which partition."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from consumers.drift import DriftHandler
from consumers.drift_judge import DriftJudge
from consumers.drift_metrics import DriftMetrics
from core.drift.judge import Reference
from core.follower import ProductionFollower
from core.kafka.changelog import CheckpointStore
from core.kafka.processor import Assignment
from core.records import OutRecord, Record
from core.registry import ModelRegistry
from core.settings import Settings
from tests.stubs import StubRecord


class NoCheckpoints(CheckpointStore):
    """A checkpoint store that has nothing to restore (every start is a first start)."""

    def restore(self, partitions: Any = (None,)) -> dict[int | None, bytes]:
        return {}


@dataclass(frozen=True)
class Judged:
    """What the judge said of one window, as tests compare it."""

    start: str
    end: str
    events: int
    verdict: str
    drifting: tuple[str, ...]
    alert: bool


def judged(logs: list[dict[str, Any]]) -> list[Judged]:
    return [
        Judged(
            e["window_start"],
            e["window_end"],
            e["events"],
            e["verdict"],
            tuple(e["drifting_features"]),
            e["alert"],
        )
        for e in logs
        if e["event"] == "window_closed"
    ]


def watcher(settings: Settings, partitions: Sequence[int]) -> DriftHandler:
    registry = ModelRegistry(settings.registry.path)
    follower = ProductionFollower(registry, settings.registry.model_name, Reference.load, poll_s=0)
    store = NoCheckpoints(settings, settings.topics.drift_state, settings.drift.group_id)
    handler = DriftHandler(settings, follower, DriftMetrics(CollectorRegistry()), store)
    handler.idle()
    topic = settings.topics.events
    handler.on_assigned(Assignment([(topic, p) for p in partitions], lambda: []))
    return handler


def judge(settings: Settings, partitions: int) -> DriftJudge:
    store = NoCheckpoints(settings, settings.topics.drift_state, "judge")
    registry = ModelRegistry(settings.registry.path)
    handler = DriftJudge(
        settings, DriftMetrics(CollectorRegistry()), store, lambda: partitions, registry
    )
    handler.on_assigned(Assignment([(settings.topics.drift_partials, 0)], lambda: []))
    return handler


def run(
    settings: Settings, records: Sequence[Record], partitions: int, watchers: int, batch: int = 500
) -> tuple[list[Judged], list[OutRecord]]:
    """Partitions dealt round robin to `watchers`; each takes its records in batches, the
    watchers taking turns; the judge reads their shares in the order they committed."""
    owners = [watcher(settings, range(w, partitions, watchers)) for w in range(watchers)]
    mine: list[list[Record]] = [
        [r for r in records if (r.partition() or 0) % watchers == w] for w in range(watchers)
    ]
    chunks = [[m[i : i + batch] for i in range(0, len(m), batch)] for m in mine]
    the_judge = judge(settings, partitions)
    offset = itertools.count()
    out: list[OutRecord] = []
    with structlog.testing.capture_logs() as logs:
        for turn in itertools.zip_longest(*chunks):
            for w, chunk in enumerate(turn):
                if not chunk:
                    continue
                produced = owners[w].process(chunk)
                owners[w].batch_committed()
                shares = [
                    StubRecord(o.topic, 0, next(offset), o.value, o.key)
                    for o in produced
                    if o.topic == settings.topics.drift_partials
                ]
                if shares:
                    out += the_judge.process(shares)
                    the_judge.batch_committed()
    alerts = [o for o in out if o.topic == settings.topics.alerts]
    return judged(logs), alerts
