"""Generated events as Kafka-ready messages: key, value bytes, and what became of them.

The one place where the generator's labelled events and the invalid-event mix meet, so
the Kafka publisher and the `--dry-run` file writer send exactly the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from producers.generator import ChurnGenerator
from producers.invalid import InvalidKind, InvalidMix, encode


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One `customer-events` record to send, and its label when it has one."""

    key: bytes | None
    value: bytes
    event_id: str | None = None
    customer_id: str | None = None
    churned: int | None = None
    """The true label; None for invalid events (no outcome follows them)."""
    invalid: InvalidKind | None = None
    event_time: str | None = None

    def label(self) -> tuple[str, str, int] | None:
        """`(event_id, customer_id, churned)` when an outcome should follow this event."""
        if self.event_id is None or self.customer_id is None or self.churned is None:
            return None
        return self.event_id, self.customer_id, self.churned


def event_messages(
    generator: ChurnGenerator,
    n: int | None,
    start_index: int = 0,
    invalid: InvalidMix | None = None,
) -> Iterator[EventMessage]:
    """Messages for events `start_index ..`; `n=None` never ends.

    An invalid event replaces the valid one at its index and keeps its key, so it lands on
    the partition the customer's good events use.
    """
    index = start_index
    for event, churned in generator.events(n, start_index):
        customer_id: str = event["customer_id"]
        key = customer_id.encode()
        if invalid is None or (kind := invalid.kind_at(index)) is None:
            yield EventMessage(
                key,
                encode(event),
                event["event_id"],
                customer_id,
                churned,
                event_time=event["event_time"],
            )
        else:
            yield EventMessage(key, invalid.damage(index, kind, event).value, invalid=kind)
        index += 1
