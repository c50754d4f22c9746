"""Turn raw input bytes into a `CustomerEvent`, or say exactly why not.

Every failure is classified (`error_type`) and explained field by field (`message`), so a
dead-lettered record tells its producer what to fix without anyone reading the scorer's
logs. Values are never echoed into messages: the original bytes are in the DLQ already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from core.errors import StreamscoreError
from core.schemas import CustomerEventFields

_EVENT: Final = TypeAdapter(CustomerEventFields)

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
