"""Remove personal data from anything that is logged."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class PiiScrubber:
    """Drops keys named like PII fields, case-insensitively, at any depth.

    Matching is by field name, not by value: a name is a decision a team can review in
    settings, while guessing PII from values misses more than it catches.

    >>> scrub = PiiScrubber(["email", "Name"])
    >>> scrub({"age": 40, "EMAIL": "a@b.c", "extra": [{"name": "x", "k": 1}]})
    {'age': 40, 'extra': [{'k': 1}]}
    """

    def __init__(self, fields: Iterable[str]) -> None:
        self._fields = frozenset(f.lower() for f in fields)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: self(v)
                for k, v in value.items()
                if not (isinstance(k, str) and k.lower() in self._fields)
            }
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value
