"""What may be shown of a dead letter: its shape, not its data.

A dead letter is input nobody validated, so any field may hold personal data, and the
key is a customer id. A sample keeps the field names (what a producer team needs to see
what it sent) and replaces every value by its kind and size. The only values shown are
the contract's numeric features at the top level: an age of 212 is what makes an
`out_of_range` plain, and a number under a known feature name identifies nobody; and a
categorical feature's value when it is one the contract knows (an unknown one may be
free text, so it shows as a string of some length). Fields
named like PII (`logging.pii_fields`) show only that they are there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from core.features import CATEGORICAL_FEATURES, CONTRACT_TYPES, NUMERIC_FEATURES

PII: Final = "<pii>"
_LIST_ITEMS: Final = 3


class SampleRedactor:
    """Options in `__init__`, work in `__call__` (one value of a dead letter).

    >>> redact = SampleRedactor(["email"])
    >>> redact(b'{"customer_id": "c-17", "age": 212, "email": "a@b.c", "tags": [true]}')
    {'customer_id': '<string, 4 chars>', 'age': 212, 'email': '<pii>', 'tags': ['<boolean>']}
    >>> redact(b'{"age": 4')
    '<9 bytes, not JSON>'
    """

    def __init__(self, pii_fields: Iterable[str]) -> None:
        self._pii = frozenset(f.lower() for f in pii_fields)
        self._shown = frozenset(NUMERIC_FEATURES)

    def __call__(self, value: bytes) -> Any:
        if not value:
            return "<empty>"
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes, not UTF-8>"
        try:
            document = json.loads(text)
        except ValueError:
            return f"<{len(value)} bytes, not JSON>"
        if not isinstance(document, dict):
            return f"<{len(value)} bytes, JSON {_kind(document)}>"
        return self._object(document, top=True)

    def key(self, key: bytes | None) -> str | None:
        """A key is an identifier: only its size is shown."""
        return None if key is None else f"<{len(key)} bytes>"

    def _object(self, document: dict[str, Any], *, top: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in document.items():
            if name.lower() in self._pii:
                out[name] = PII
            elif top and self._plain(name, value):
                out[name] = value
            else:
                out[name] = self._value(value)
        return out

    def _plain(self, name: str, value: Any) -> bool:
        """A top-level feature value that may be shown as it is."""
        if name in self._shown:
            return _number(value)
        return name in CATEGORICAL_FEATURES and value in CONTRACT_TYPES

    def _value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self._object(value, top=False)
        if isinstance(value, list):
            shown = [self._value(v) for v in value[:_LIST_ITEMS]]
            if len(value) > _LIST_ITEMS:
                shown.append(f"<{len(value) - _LIST_ITEMS} more>")
            return shown
        if isinstance(value, str):
            return f"<string, {len(value)} chars>"
        if value is None:
            return None
        return f"<{_kind(value)}>"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "object"
