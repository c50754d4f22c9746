"""Outcomes: the true churn label of each event, published after a delay.

In the world being simulated a label is known only some time after the event (a month
later the customer has or has not left). The delay makes the closed loop honest: the
retrainer must join outcomes to predictions that were made before the label existed.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from core.schemas import Outcome


def outcome_value(event_id: str, customer_id: str, churned: int, observed_at: datetime) -> bytes:
    """A `customer-outcomes` value, checked against the contract before it leaves."""
    outcome = Outcome(
        event_id=event_id,
        customer_id=customer_id,
        churned=1 if churned else 0,
        observed_at=observed_at,
    )
    return json.dumps(outcome.model_dump(mode="json"), separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class PendingOutcome:
    due: float
    """Monotonic time at which it may be published."""
    key: bytes
    event_id: str
    customer_id: str
    churned: int


class OutcomeQueue:
    """Labels waiting out their delay, released in the order their events were sent.

    The delay is the same for every outcome, so a FIFO is also a priority queue.
    `observed_at` is stamped at release: it is when the label became known.
    """

    def __init__(self, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError("outcome delay must be >= 0")
        self.delay_s = delay_s
        self._pending: deque[PendingOutcome] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, now: float, event_id: str, customer_id: str, churned: int) -> None:
        self._pending.append(
            PendingOutcome(now + self.delay_s, customer_id.encode(), event_id, customer_id, churned)
        )

    def next_due(self) -> float | None:
        return self._pending[0].due if self._pending else None

    def release(self, now: float) -> list[tuple[bytes, bytes]]:
        """`(key, value)` of every outcome whose delay has passed."""
        out: list[tuple[bytes, bytes]] = []
        observed_at = datetime.now(UTC)
        while self._pending and self._pending[0].due <= now:
            p = self._pending.popleft()
            out.append((p.key, outcome_value(p.event_id, p.customer_id, p.churned, observed_at)))
        return out
