"""Events and outcomes as the retrainer reads them back: `Record`s made by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from producers.generator import ChurnGenerator
from producers.outcomes import outcome_value
from producers.scenarios import Scenario
from tests.stubs import StubRecord

EVENTS = "customer-events"
OUTCOMES = "customer-outcomes"


def labelled_records(
    n: int,
    seed: int = 3,
    *,
    partitions: int = 3,
    start_index: int = 0,
    scenarios: tuple[Scenario, ...] = (),
    label_every: int = 1,
) -> tuple[list[StubRecord], list[StubRecord]]:
    """`n` generated events spread round-robin over partitions, and the outcome of every
    `label_every`-th one (the rest have no label yet)."""
    events: list[StubRecord] = []
    outcomes: list[StubRecord] = []
    next_offset = [0] * partitions
    gen = ChurnGenerator(seed, scenarios)
    for i, (event, churned) in enumerate(gen.events(n, start_index)):
        p = i % partitions
        when = datetime.fromisoformat(event["event_time"])
        events.append(
            StubRecord(
                EVENTS,
                p,
                next_offset[p],
                json.dumps(event).encode(),
                timestamp_ms=int(when.timestamp() * 1000),
            )
        )
        next_offset[p] += 1
        if i % label_every == 0:
            value = outcome_value(
                event["event_id"], event["customer_id"], churned, when + timedelta(days=30)
            )
            outcomes.append(StubRecord(OUTCOMES, p, len(outcomes), value))
    return events, outcomes


def now_after(events: list[StubRecord]) -> datetime:
    """A clock just after the newest event."""
    newest = max(r.timestamp_ms for r in events)
    return datetime.fromtimestamp(newest / 1000 + 1, UTC)
