"""Outcomes: the true churn label of each event, published after a delay.

In the world being simulated a label is known only some time after the event (a month
later the customer has or has not left). The delay makes the closed loop honest: the
retrainer must join outcomes to predictions that were made before the label existed.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    event_time: str | None


class OutcomeQueue:
    """Labels waiting out their delay, released in the order their events were sent.

    The delay is the same for every outcome, so a FIFO is also a priority queue.
    `observed_at` is the event's time plus the delay: labels live on the event clock, so
    they never precede their events, even at `--max-speed` where the event clock runs
    ahead of the wall clock. Events without a time (some replays) get the release time.
    """

    def __init__(self, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError("outcome delay must be >= 0")
        self.delay_s = delay_s
        self._pending: deque[PendingOutcome] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        now: float,
        event_id: str,
        customer_id: str,
        churned: int,
        event_time: str | None = None,
    ) -> None:
        self._pending.append(
            PendingOutcome(
                now + self.delay_s, customer_id.encode(), event_id, customer_id, churned, event_time
            )
        )

    def next_due(self) -> float | None:
        return self._pending[0].due if self._pending else None

    def release(self, now: float) -> list[tuple[bytes, bytes]]:
        """`(key, value)` of every outcome whose delay has passed."""
        out: list[tuple[bytes, bytes]] = []
        released_at = datetime.now(UTC)
        delay = timedelta(seconds=self.delay_s)
        while self._pending and self._pending[0].due <= now:
            p = self._pending.popleft()
            observed_at = released_at
            # A replayed event with a bad time keeps the release time (it is dead-lettered).
            if p.event_time is not None:
                with contextlib.suppress(ValueError):
                    observed_at = datetime.fromisoformat(p.event_time) + delay
            out.append((p.key, outcome_value(p.event_id, p.customer_id, p.churned, observed_at)))
        return out
