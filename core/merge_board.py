"""The judge's board: partition shares of windows merged once every partition is past.

A window is final when every input partition is past it: it reported a watermark at or
beyond the window's `closes_at` for the window's model version (or for every version),
or it left that version (or reported under a version first seen after it), or it is
idle. A partition never heard of holds every window, so a judge that starts before some
workers does not judge a window on part of the group. Windows are handed back oldest
first, each exactly once; a share that arrives for a window already final (from a
partition that was idle and woke up) is late and counted, never judged apart.

Generic over the share's state type: the caller gives how states merge and how they are
written to and read from the board's checkpoint.

>>> board = MergeBoard[int](2, merge=lambda a, b: a + b)
>>> share = lambda p, start, n: Incoming("share", "m", 1, p, start, start + 60, start + 60, n)
>>> mark = lambda p, t: Incoming("progress", "m", 1, p, mark=t)
>>> board.add(share(0, 0.0, 5), 5) + board.add(mark(0, 70.0)) + board.add(share(1, 0.0, 3), 3)
[]
>>> [(w.start, w.state, w.partitions) for w in board.add(mark(1, 61.0))]
[(0.0, 8, [0, 1])]
>>> board.add(Incoming("idle", "m", None, 1)), board.add(share(0, 60.0, 4), 4)
([], [])
>>> [(w.start, w.state) for w in board.add(mark(0, 125.0))]
[(60.0, 4)]
>>> board.add(share(1, 60.0, 2), 2), board.late_events
([], 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from core.window_shares import ShareKind

T = TypeVar("T")
WindowKey = tuple[str, int, float, int]
"""(model name, model version, window start, partition or -1 for a merged window)."""


@dataclass(frozen=True)
class Incoming:
    """One partials record as the board reads it (`core.window_shares.WindowShare`)."""

    kind: ShareKind
    model_name: str
    model_version: int | None
    partition: int
    start: float | None = None
    end: float | None = None
    closes_at: float | None = None
    events: int = 0
    whole: bool = False
    mark: float | None = None


@dataclass
class FinalWindow(Generic[T]):
    """A merged window, final: judge it once."""

    model_name: str
    model_version: int
    start: float
    end: float
    closes_at: float
    state: T
    partitions: list[int] = field(default_factory=list)
    """Partitions whose shares it merges."""


class MergeBoard(Generic[T]):
    def __init__(self, partitions: int, merge: Callable[[T, T], T]) -> None:
        self.partitions = partitions
        self._merge = merge
        self.pending: dict[WindowKey, FinalWindow[T]] = {}
        self.marks: dict[int, dict[int | None, float]] = {}
        """Per partition, watermark per model version (None: every version); inf: left."""
        self.versions: list[int] = []
        """Model versions in the order the board first heard of them."""
        self.idle: set[int] = set()
        self.late_events = 0
        self.late_shares = 0

    def add(self, record: Incoming, state: T | None = None) -> list[FinalWindow[T]]:
        """Take one record (a share comes with its decoded state); the windows it made
        final, oldest first."""
        version = record.model_version
        if version is not None and version not in self.versions:
            self.versions.append(version)
        p = record.partition
        if record.kind == "idle":
            self.idle.add(p)
            return self._final()
        if record.kind == "share":
            if state is None or version is None or record.start is None:
                raise ValueError("a share needs a version, a start and a state")
            self._add_share(record, version, record.start, state)
        elif record.kind == "progress" and record.mark is not None:
            marks = self.marks.setdefault(p, {})
            marks[version] = max(marks.get(version, -math.inf), record.mark)
        elif record.kind == "left" and version is not None:
            self.marks.setdefault(p, {})[version] = math.inf
        self.idle.discard(p)
        return self._final()

    def _add_share(self, record: Incoming, version: int, start: float, state: T) -> None:
        end = record.end if record.end is not None else start
        closes = record.closes_at if record.closes_at is not None else end
        if record.whole:
            key: WindowKey = (record.model_name, version, start, record.partition)
            self.pending[key] = FinalWindow(
                record.model_name, version, start, end, -math.inf, state, [record.partition]
            )
            return
        key = (record.model_name, version, start, -1)
        window = self.pending.get(key)
        if window is None:
            if self._is_final(version, closes):
                self.late_shares += 1
                self.late_events += record.events
                return
            self.pending[key] = FinalWindow(
                record.model_name, version, start, end, closes, state, [record.partition]
            )
            return
        window.state = self._merge(window.state, state)
        window.partitions = sorted({*window.partitions, record.partition})

    def _past(self, partition: int, version: int, closes_at: float) -> bool:
        if partition in self.idle:
            return True
        marks = self.marks.get(partition)
        if not marks:
            return False
        if max(marks.get(version, -math.inf), marks.get(None, -math.inf)) >= closes_at:
            return True
        order = self.versions.index(version) if version in self.versions else -1
        return any(v is not None and self.versions.index(v) > order for v in marks)

    def _is_final(self, version: int, closes_at: float) -> bool:
        if closes_at == -math.inf:
            return True
        active = [p for p in range(self.partitions) if p not in self.idle]
        if not active:
            return False  # event time stands still: nothing closes while all are quiet
        return all(self._past(p, version, closes_at) for p in range(self.partitions))

    def _final(self) -> list[FinalWindow[T]]:
        done = [k for k, w in self.pending.items() if self._is_final(k[1], w.closes_at)]
        order = {v: i for i, v in enumerate(self.versions)}
        done.sort(key=lambda k: (order.get(k[1], -1), k[2], k[0], k[3]))
        return [self.pending.pop(k) for k in done]

    def to_dict(self, encode: Callable[[T], Any]) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "pending": [
                [list(k), w.end, _num(w.closes_at), encode(w.state), w.partitions]
                for k, w in sorted(self.pending.items())
            ],
            "marks": [
                [p, v, _num(m)] for p, marks in sorted(self.marks.items()) for v, m in marks.items()
            ],
            "versions": self.versions,
            "idle": sorted(self.idle),
            "late_events": self.late_events,
            "late_shares": self.late_shares,
        }

    @classmethod
    def from_dict(
        cls,
        d: dict[str, Any],
        merge: Callable[[T, T], T],
        decode: Callable[[int, Any], T],
        partitions: int | None = None,
    ) -> MergeBoard[T]:
        """`partitions`: the input's partition count now, if it grew since."""
        board = cls(max(int(d["partitions"]), partitions or 0), merge)
        for (name, version, start, part), end, closes, state, parts in d["pending"]:
            key: WindowKey = (str(name), int(version), float(start), int(part))
            board.pending[key] = FinalWindow(
                key[0],
                key[1],
                key[2],
                float(end),
                _inf(closes),
                decode(key[1], state),
                [int(p) for p in parts],
            )
        for p, v, m in d["marks"]:
            board.marks.setdefault(int(p), {})[None if v is None else int(v)] = _inf(m)
        board.versions = [int(v) for v in d["versions"]]
        board.idle = {int(p) for p in d["idle"]}
        board.late_events = int(d["late_events"])
        board.late_shares = int(d["late_shares"])
        return board


def _num(value: float) -> float | str:
    """JSON has no infinities: written as strings."""
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _inf(value: float | str) -> float:
    return float(value)
