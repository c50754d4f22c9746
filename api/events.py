"""Request bodies to validated events, by the contract's own rules (`core.validation`).

The HTTP body is a `customer-events` value with two differences: `customer_id` may be
left out (a checkout page may score a visitor who has no id yet) and `event_id` may be
left out (the request id names the event then). Rather than a second set of rules with
`customer_id` optional, a body without one gets a stand-in id (`ANONYMOUS`) and goes
through `parse_event` like a Kafka record; the stand-in never reaches a response, a log
or a record key. A body that has a `customer_id` is validated as the very bytes that
were sent, so HTTP and Kafka give every such input the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pydantic_core

from core.schemas import CustomerEventFields
from core.validation import InvalidEvent, parse_event

ANONYMOUS: Final = "anonymous"
"""Stand-in `customer_id` for validation only; replaced by `None` in what is answered."""


@dataclass(frozen=True, slots=True)
class ApiEvent:
    """One validated event and the names it is answered under."""

    event_id: str
    event: CustomerEventFields
    customer_id: str | None
    """As sent; None when the body had none."""


class InvalidBatch(InvalidEvent):
    """A `/predict/batch` body whose envelope (not one of its events) is wrong."""

    hint = 'send {"events": [event, ...]} with 1 to api.max_batch events'


def event_from_body(raw: bytes, request_id: str, max_bytes: int) -> ApiEvent:
    """The event of a `POST /predict` body; raises `InvalidEvent` as the scorer would."""
    decoded = _decode(raw)
    if isinstance(decoded, dict) and decoded.get("customer_id") is None:
        decoded["customer_id"] = ANONYMOUS
        return _named(parse_event(pydantic_core.to_json(decoded), max_bytes), request_id, False)
    return _named(parse_event(raw, max_bytes), request_id, True)


def events_from_batch(
    raw: bytes, request_id: str, max_items: int, max_bytes: int
) -> list[ApiEvent | InvalidEvent]:
    """Each item of a `POST /predict/batch` body, validated on its own: an invalid item
    becomes its `InvalidEvent` in place and never fails the others."""
    decoded = _decode(raw)
    if decoded is _UNDECODABLE:
        parse_event(raw, max_bytes)  # raises the scorer's classification of the bytes
    items = decoded.get("events") if isinstance(decoded, dict) else None
    if not isinstance(items, list):
        raise InvalidBatch("invalid_value", 'body must be a JSON object {"events": [...]}')
    if not 1 <= len(items) <= max_items:
        raise InvalidBatch("invalid_value", f"events: must hold 1 to {max_items} events")
    out: list[ApiEvent | InvalidEvent] = []
    for i, item in enumerate(items):
        try:
            out.append(_item(item, f"{request_id}:{i}", max_bytes))
        except InvalidEvent as exc:
            out.append(exc)
    return out


_UNDECODABLE: Final = object()


def _decode(raw: bytes) -> Any:
    """The body as Python values, parsed by pydantic's own JSON parser (so a re-encoded
    event reads back as the original would), or `_UNDECODABLE`."""
    try:
        return pydantic_core.from_json(raw)
    except ValueError:
        return _UNDECODABLE


def _item(item: Any, default_id: str, max_bytes: int) -> ApiEvent:
    known = True
    if isinstance(item, dict) and item.get("customer_id") is None:
        item = {**item, "customer_id": ANONYMOUS}
        known = False
    return _named(parse_event(pydantic_core.to_json(item), max_bytes), default_id, known)


def _named(event: CustomerEventFields, default_id: str, known: bool) -> ApiEvent:
    return ApiEvent(
        event_id=event.get("event_id") or default_id,
        event=event,
        customer_id=event["customer_id"] if known else None,
    )
