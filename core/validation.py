"""Turn raw input bytes into a `CustomerEvent`, or say exactly why not.

Every failure is classified (`error_type`) and explained field by field (`message`), so a
dead-lettered record tells its producer what to fix without anyone reading the scorer's
logs. Values are never echoed into messages: the original bytes are in the DLQ already.

The contract's validator is pydantic (`CustomerEventFields`); msgspec checks the same rules
about three times faster and goes first. It is a fast path, not a second source of truth:
whatever it does not accept, pydantic decides and classifies, and a property test holds
the two to the same verdict and the same values on every input
(`tests/unit/test_validation.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Final, NotRequired

import msgspec
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict

from core.errors import StreamscoreError
from core.features import ContractType
from core.schemas import CustomerEventFields

_EVENT: Final = TypeAdapter(CustomerEventFields)

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class _FastEventFields(TypedDict):
    """`CustomerEventFields`'s rules in msgspec's terms (strict types, extras ignored)."""

    customer_id: _Id
    event_id: NotRequired[_Id | None]
    event_time: NotRequired[datetime | None]
    age: Annotated[int, msgspec.Meta(ge=18, le=120)]
    tenure_months: Annotated[int, msgspec.Meta(ge=0, le=1200)]
    monthly_charges: Annotated[float, msgspec.Meta(gt=0, le=1e6)]
    total_charges: Annotated[float, msgspec.Meta(ge=0, le=1e9)]
    contract_type: ContractType


_FAST_EVENT: Final = msgspec.json.Decoder(_FastEventFields).decode
_FAST_FAILURES: Final = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)
MAX_FAST_BYTES: Final = 4300
"""pydantic refuses a number whose integer part has more than 4,300 digits (Python's
`int` limit), in any field; msgspec accepts it in an ignored one. An input that long
could hold one, so it is left to the contract's validator (events are ~200 bytes)."""
_MAX_FAST_BRACKETS: Final = 200
"""pydantic refuses JSON nested deeper than 200 levels; msgspec goes as deep as Python's
recursion limit allows (and then raises `RecursionError`, at a depth that depends on
the caller's stack). An input with more opening brackets than that, inside strings or
not, is left to the contract's validator, so the two agree on every nesting depth."""

_RANGE_ERRORS: Final = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "finite_number",
}
_TYPE_ERRORS: Final = {
    "int_type",
    "int_from_float",
    "float_type",
    "string_type",
    "datetime_type",
    "datetime_parsing",
    "datetime_from_date_parsing",
    "bool_type",
}


@dataclass(frozen=True, slots=True)
class FieldReason:
    """Why one field failed, without its value: what an HTTP client gets per field."""

    field: str
    """Dotted path of the field, `<message>` for the message as a whole."""
    reason: str


class InvalidEvent(StreamscoreError):
    """An input record that cannot be scored; it goes to the dead-letter topic."""

    hint = "fix the producer: see the contract in the README"

    def __init__(self, error_type: str, message: str, fields: tuple[FieldReason, ...] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        """One of `core.dead_letters.reasons.ERROR_TYPES`: the dead letter's `error.type`."""
        self.fields = fields or (FieldReason("<message>", message),)
        """Field by field, the same reasons `message` joins (never the values)."""


def parse_event(raw: bytes | None, max_bytes: int) -> CustomerEventFields:
    """The validated event as a dict (the rules of `CustomerEvent`, extra fields dropped)."""
    if raw is not None and len(raw) <= max_bytes and fast_path_safe(raw):
        try:
            return _FAST_EVENT(raw)  # type: ignore[return-value]
        except _FAST_FAILURES:
            pass
    return validate_with_contract(raw, max_bytes)


def validate_with_contract(raw: bytes | None, max_bytes: int) -> CustomerEventFields:
    """`parse_event` by the contract's own validator alone: the reference the fast path
    is held to, and the classification of everything it does not accept."""
    if raw is None:
        raise InvalidEvent("empty_message", "message has no value (tombstone or null)")
    if len(raw) > max_bytes:
        raise InvalidEvent(
            "oversized_message", f"message is {len(raw)} bytes, more than the {max_bytes} allowed"
        )
    try:
        return _EVENT.validate_json(raw)
    except ValidationError as exc:
        raise _classify(exc, raw) from None


def fast_path_safe(raw: bytes) -> bool:
    """Whether msgspec's verdict on `raw` can be taken: short enough, not nested deeper
    than pydantic allows, and UTF-8 throughout (msgspec skips ignored fields unchecked).

    >>> fast_path_safe(b'{"a": [1]}'), fast_path_safe(b"[" * 201), fast_path_safe(b'{"\\xff": 1}')
    (True, False, False)
    """
    if len(raw) > MAX_FAST_BYTES or raw.count(b"[") + raw.count(b"{") > _MAX_FAST_BRACKETS:
        return False
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _classify(exc: ValidationError, raw: bytes) -> InvalidEvent:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return InvalidEvent("not_utf8", f"message is not UTF-8: byte {err.start} is invalid")
        return InvalidEvent("malformed_json", f"message is not valid JSON: {first['msg']}")
    if first["type"] in {"model_type", "model_attributes_type", "dict_type"} and not first["loc"]:
        return InvalidEvent("not_an_object", "message is valid JSON but not a JSON object")
    reasons = tuple(FieldReason(_field(e), e["msg"]) for e in errors)
    message = "; ".join(f"{r.field}: {r.reason}" for r in reasons)
    return InvalidEvent(_error_type(first), message, reasons)


def _error_type(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing_field"
    if kind in _RANGE_ERRORS:
        return "out_of_range"
    if kind == "enum":
        return "unknown_category"
    if kind in {"string_too_long", "too_long"}:
        return "oversized_value"
    if kind in _TYPE_ERRORS or kind.endswith("_type"):
        return "wrong_type"
    return "invalid_value"


def _field(error: ErrorDetails) -> str:
    return ".".join(str(p) for p in error["loc"]) or "<message>"
