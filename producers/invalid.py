"""Bad `customer-events` values of every kind the scorer must dead-letter.

A scorer that has only ever seen clean traffic has not been tested. Each kind here is a
way real producers break the contract; each is built from a real generated event so the
rest of the message looks ordinary, and `InvalidMix` decides which event indexes are
replaced, from the seed alone, so a test can know exactly which offsets should end up in
the dead-letter topic and why.

Example:

>>> from producers.generator import ChurnGenerator
>>> event, _ = next(ChurnGenerator(seed=1).events(1))
>>> bad = make_invalid(InvalidKind.NON_UTF8, event, np.random.default_rng(0))
>>> bad.kind, bad.value.isascii()
(<InvalidKind.NON_UTF8: 'non_utf8'>, False)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from producers.generator import BLOCK

DEFAULT_MAX_EVENT_BYTES: Final = 64 * 1024
"""The scorer's default `validation.max_event_bytes`; oversized events exceed it."""

_INVALID_STREAM: Final = 11


class InvalidKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    """Not JSON: truncated, plain text, or with a stray token.

    Never empty: an empty value would be an empty line in a dry-run file, which a replay
    cannot tell from a blank line."""
    NON_UTF8 = "non_utf8"
    """JSON-shaped bytes that are not valid UTF-8."""
    NOT_AN_OBJECT = "not_an_object"
    """Valid JSON, but an array, number, string or null."""
    WRONG_TYPE = "wrong_type"
    """A field of the wrong JSON type (numbers as strings, floats for integers)."""
    OUT_OF_RANGE = "out_of_range"
    """A field outside its contract bounds (age 150, negative charges, empty id)."""
    UNKNOWN_CONTRACT = "unknown_contract"
    """A contract_type that is not a `ContractType` value."""
    MISSING_FIELD = "missing_field"
    """A required field left out."""
    OVERSIZED_VALUE = "oversized_value"
    """An identifier longer than the contract's 128 characters."""
    OVERSIZED = "oversized"
    """Larger than `validation.max_event_bytes`; dead-lettered before parsing."""


SCORER_ERROR_TYPE: Final[Mapping[InvalidKind, str]] = {
    InvalidKind.MALFORMED_JSON: "malformed_json",
    InvalidKind.NON_UTF8: "not_utf8",
    InvalidKind.NOT_AN_OBJECT: "not_an_object",
    InvalidKind.WRONG_TYPE: "wrong_type",
    InvalidKind.OUT_OF_RANGE: "out_of_range",
    InvalidKind.UNKNOWN_CONTRACT: "unknown_category",
    InvalidKind.MISSING_FIELD: "missing_field",
    InvalidKind.OVERSIZED_VALUE: "oversized_value",
    InvalidKind.OVERSIZED: "oversized_message",
}
"""The `error.type` dead-letter header `core.validation` gives each kind (tested)."""


ALL_KINDS: Final = tuple(InvalidKind)


@dataclass(frozen=True, slots=True)
class DamagedEvent:
    """The raw message value to send, the kind of damage, and which variant of it."""

    kind: InvalidKind
    value: bytes
    detail: str


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""One encoder for every value: `json.dumps` with options builds a new one per call."""


def encode(event: Mapping[str, Any]) -> bytes:
    """Compact JSON, as every producer here writes a value."""
    return _ENCODER.encode(event).encode()


# Variants per kind: (detail, how to damage the event dict or its bytes).
_WRONG_TYPES: Final[Sequence[tuple[str, str, Any]]] = (
    ("age as a string", "age", "45"),
    ("tenure_months as a float", "tenure_months", 12.5),
    ("monthly_charges as a string", "monthly_charges", "70.5"),
    ("total_charges as a bool", "total_charges", True),
    ("event_time as a number", "event_time", 1767225600),
    ("customer_id as a number", "customer_id", 12345),
    ("age as null", "age", None),
)
_OUT_OF_RANGE: Final[Sequence[tuple[str, str, Any]]] = (
    ("age above 120", "age", 150),
    ("age below 18", "age", 7),
    ("negative tenure", "tenure_months", -3),
    ("zero monthly charges", "monthly_charges", 0.0),
    ("negative monthly charges", "monthly_charges", -20.0),
    ("negative total charges", "total_charges", -1.0),
    ("total charges above 1e9", "total_charges", 2e9),
)
_OVERSIZED_VALUES: Final[Sequence[tuple[str, str, Any]]] = (
    ("customer_id over 128 characters", "customer_id", "c" * 129),
    ("event_id over 128 characters", "event_id", "e" * 1000),
)
_UNKNOWN_CONTRACTS: Final = ("weekly", "lifetime", "", "Month-To-Month", "two-year")
_REQUIRED: Final = (
    "customer_id",
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract_type",
)
_NOT_OBJECTS: Final[Sequence[tuple[str, bytes | None]]] = (
    ("an array", None),
    ("a number", b"42"),
    ("a string", b'"customer-event"'),
    ("null", b"null"),
)


def make_invalid(
    kind: InvalidKind,
    event: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> DamagedEvent:
    """Damage a valid `event` in the way `kind` names; `rng` picks the variant."""
    good = encode(event)
    if kind is InvalidKind.MALFORMED_JSON:
        variants = (
            ("truncated", good[: max(1, len(good) // 2)]),
            ("plain text", b"customer " + str(event.get("customer_id")).encode() + b" churned"),
            ("trailing comma", good[:-1] + b",}"),
            ("single quotes", good.replace(b'"', b"'")),
        )
        detail, value = variants[int(rng.integers(len(variants)))]
    elif kind is InvalidKind.NON_UTF8:
        detail, value = "latin-1 bytes in customer_id", _with(event, "customer_id", None)
        value = value.replace(b'"customer_id":null', b'"customer_id":"caf\xe9\xff"', 1)
    elif kind is InvalidKind.NOT_AN_OBJECT:
        detail, raw = _NOT_OBJECTS[int(rng.integers(len(_NOT_OBJECTS)))]
        value = raw if raw is not None else b"[" + good + b"]"
    elif kind is InvalidKind.WRONG_TYPE:
        detail, name, wrong = _WRONG_TYPES[int(rng.integers(len(_WRONG_TYPES)))]
        value = _with(event, name, wrong)
    elif kind is InvalidKind.OUT_OF_RANGE:
        detail, name, wrong = _OUT_OF_RANGE[int(rng.integers(len(_OUT_OF_RANGE)))]
        value = _with(event, name, wrong)
    elif kind is InvalidKind.OVERSIZED_VALUE:
        detail, name, wrong = _OVERSIZED_VALUES[int(rng.integers(len(_OVERSIZED_VALUES)))]
        value = _with(event, name, wrong)
    elif kind is InvalidKind.UNKNOWN_CONTRACT:
        contract = _UNKNOWN_CONTRACTS[int(rng.integers(len(_UNKNOWN_CONTRACTS)))]
        detail, value = f"contract_type {contract!r}", _with(event, "contract_type", contract)
    elif kind is InvalidKind.MISSING_FIELD:
        name = _REQUIRED[int(rng.integers(len(_REQUIRED)))]
        detail, value = f"no {name}", encode({k: v for k, v in event.items() if k != name})
    else:
        detail = f"padded past {max_event_bytes} bytes"
        value = _with(event, "notes", "x" * (max_event_bytes + 1))
    return DamagedEvent(kind, value, detail)


def _with(event: Mapping[str, Any], name: str, value: Any) -> bytes:
    return encode({**event, name: value})


class InvalidMix:
    """Which event indexes become invalid, and of which kind, decided by the seed alone.

    Each index is invalid with probability `rate`, independently; the kind is uniform over
    `kinds`. Like the generator, decisions come per block of indexes, so they do not
    depend on how the stream is chunked.
    """

    def __init__(
        self,
        seed: int,
        rate: float,
        *,
        kinds: Sequence[InvalidKind] = ALL_KINDS,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"invalid rate must be in [0, 1], got {rate}")
        if not kinds:
            raise ValueError("at least one invalid kind is needed")
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kinds)
        self.max_event_bytes = max_event_bytes
        self._block: int | None = None
        self._picks: npt.NDArray[np.int64] = np.empty(0, np.int64)

    def kind_at(self, index: int) -> InvalidKind | None:
        """The kind event `index` is replaced by, or None when it stays valid."""
        if self.rate == 0:
            return None
        block, offset = divmod(index, BLOCK)
        if block != self._block:
            rng = np.random.default_rng([self.seed, _INVALID_STREAM, block])
            u = rng.random(BLOCK)
            which = rng.integers(0, len(self.kinds), BLOCK)
            self._picks = np.where(u < self.rate, which, -1)
            self._block = block
        pick = int(self._picks[offset])
        return None if pick < 0 else self.kinds[pick]

    def damage(self, index: int, kind: InvalidKind, event: Mapping[str, Any]) -> DamagedEvent:
        """The invalid value for event `index`; the variant is seeded by the index."""
        rng = np.random.default_rng([self.seed, _INVALID_STREAM, index, 1])
        return make_invalid(kind, event, rng, max_event_bytes=self.max_event_bytes)
