"""The metric names and label names a PromQL expression uses, found well enough to check
ops/ against the processes (not a PromQL parser: selectors, matchers and `by`/`without`
lists, which is all the rules and the dashboard write)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SELECTOR = re.compile(r"\b(streamscore_\w+|up)\b(?!\s*\()\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Uses:
    selectors: list[tuple[str, frozenset[str]]]
    """Each metric selected and the label names it is matched on."""
    grouping: frozenset[str]
    """Labels named in `by (...)`, `without (...)`, `on (...)` and `ignoring (...)`."""


def uses(expr: str) -> Uses:
    selectors = []
    for name, braces in _SELECTOR.findall(expr):
        inner = _STRINGS.sub('""', braces)
        selectors.append((name, frozenset(_MATCHER.findall(inner))))
    bare = _STRINGS.sub('""', expr)
    grouping = {label.strip() for group in _GROUPING.findall(bare) for label in group.split(",")}
    return Uses(selectors, frozenset(label for label in grouping if label))


def problems(expr: str, exported: dict[str, frozenset[str]]) -> list[str]:
    """What in `expr` no process exports: unknown series, or labels no selected series has.

    >>> problems('sum by (job) (rate(x_total[1m]))', {})
    []
    >>> problems('rate(streamscore_nope_total{a="b"}[1m])', {})
    ['streamscore_nope_total: no process exports it']
    """
    found = uses(expr)
    out, available = [], set()
    for name, labels in found.selectors:
        if name not in exported:
            out.append(f"{name}: no process exports it")
            continue
        available |= exported[name]
        out.extend(f"{name}: has no label {label!r}" for label in sorted(labels - exported[name]))
    if found.selectors:
        missing = sorted(found.grouping - available)
        out.extend(f"no selected series has label {label!r}" for label in missing)
    return out
