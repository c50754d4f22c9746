"""The judge's board: partition shares of windows merged once every partition is past.

A window is final when every input partition is past it: it reported a watermark at or
beyond the window's `closes_at` for the window's model version (or for every version),
or it left that version (or reported under a version first seen after it), or it is
idle, does not hold the window (an idle partition names the windows it still has
open: their shares are still to come) and the window closed by the group's event time
when it was last announced idle (the largest watermark then: its next events are
expected no earlier; a quiet partition is announced again every idle period, so it
lags the group by at most that). A partition never heard of holds every window,
so a judge that starts before some workers does not judge a window on part of the
group. Windows are handed back oldest first, each exactly once: the board remembers how
far each version was judged, and a share that arrives for a window already judged (from
a partition that was idle and woke up) is late and counted, never judged again.

Generic over the share's state type: the caller gives how states merge and how they are
written to and read from the board's checkpoint.

>>> board = MergeBoard[int](2, merge=lambda a, b: a + b)
>>> share = lambda p, start, n: Incoming("share", "m", 1, p, start, start + 60, start + 60, n)
>>> mark = lambda p, t: Incoming("progress", "m", 1, p, mark=t)
>>> board.add(share(0, 0.0, 5), 5) + board.add(mark(0, 70.0)) + board.add(share(1, 0.0, 3), 3)
[]
>>> [(w.start, w.state, w.partitions) for w in board.add(mark(1, 61.0))]
[(0.0, 8, [0, 1])]
>>> quiet = Incoming("idle", "m", None, 1)
>>> board.add(quiet), board.add(share(0, 60.0, 4), 4), board.add(mark(0, 125.0))
([], [], [])
>>> [(w.start, w.state) for w in board.add(quiet)]  # announced again, group at 125
[(60.0, 4)]
>>> board.add(share(1, 60.0, 2), 2), board.late_events
([], 2)
>>> held = Incoming("idle", "m", None, 1, holds=((1, 120.0),))
>>> board.add(held), board.add(share(0, 120.0, 1), 1), board.add(mark(0, 185.0))
([], [], [])
>>> board.add(share(1, 120.0, 6), 6), [(w.start, w.state) for w in board.add(mark(1, 181.0))]
([], [(120.0, 7)])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from core.window_shares import ShareKind, WindowShare

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
    holds: tuple[tuple[int, float], ...] = ()

    @classmethod
    def of(cls, share: WindowShare) -> Incoming:
        return cls(
            share.kind,
            share.model_name,
            share.model_version,
            share.partition,
            start=share.window_start,
            end=share.window_end,
            closes_at=share.closes_at,
            events=share.events,
            whole=share.whole,
            mark=share.mark,
            holds=tuple((int(v), float(s)) for v, s in share.holds),
        )


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
        self.idle: dict[int, tuple[frozenset[tuple[int, float]], float]] = {}
        """Idle partitions: the windows (version, start) each still holds open, and the
        group's event time when it was announced."""
        self.judged: dict[tuple[str, int], float] = {}
        """Per (model, version), the latest `closes_at` judged: nothing at or before it is
        ever judged again."""
        self.late_events = 0
        self.late_shares = 0
        self.repeated_shares = 0

    def add(self, record: Incoming, state: T | None = None) -> list[FinalWindow[T]]:
        """Take one record (a share comes with its decoded state); the windows it made
        final, oldest first."""
        version = record.model_version
        if version is not None and version not in self.versions:
            self.versions.append(version)
        p = record.partition
        if record.kind == "idle":
            holds = frozenset((int(v), float(s)) for v, s in record.holds)
            self.idle[p] = (holds, self._frontier())
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
        self.idle.pop(p, None)
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
            judged = self.judged.get((record.model_name, version), -math.inf)
            if closes <= judged or self._is_final(version, start, closes):
                self.late_shares += 1
                self.late_events += record.events
                return
            self.pending[key] = FinalWindow(
                record.model_name, version, start, end, closes, state, [record.partition]
            )
            return
        if record.partition in window.partitions:
            self.repeated_shares += 1  # a partition's share is whole: never merged twice
            return
        window.state = self._merge(window.state, state)
        window.partitions = sorted({*window.partitions, record.partition})

    def _past(self, partition: int, version: int, start: float, closes_at: float) -> bool:
        idle = self.idle.get(partition)
        if idle is not None:
            holds, frontier = idle
            return (version, start) not in holds and closes_at <= frontier
        marks = self.marks.get(partition)
        if not marks:
            return False
        if max(marks.get(version, -math.inf), marks.get(None, -math.inf)) >= closes_at:
            return True
        order = self.versions.index(version) if version in self.versions else -1
        return any(v is not None and self.versions.index(v) > order for v in marks)

    def _frontier(self) -> float:
        """The group's event time: the largest watermark any partition reported."""
        return max(
            (m for marks in self.marks.values() for m in marks.values() if math.isfinite(m)),
            default=-math.inf,
        )

    def _is_final(self, version: int, start: float, closes_at: float) -> bool:
        if closes_at == -math.inf:
            return True
        return all(self._past(p, version, start, closes_at) for p in range(self.partitions))

    def _final(self) -> list[FinalWindow[T]]:
        done = [k for k, w in self.pending.items() if self._is_final(k[1], k[2], w.closes_at)]
        order = {v: i for i, v in enumerate(self.versions)}
        done.sort(key=lambda k: (order.get(k[1], -1), k[2], k[0], k[3]))
        out = [self.pending.pop(k) for k in done]
        for w in out:
            if w.closes_at != -math.inf:
                key = (w.model_name, w.model_version)
                self.judged[key] = max(self.judged.get(key, -math.inf), w.closes_at)
        return out

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
            "idle": [
                [p, sorted([v, s] for v, s in h), _num(f)]
                for p, (h, f) in sorted(self.idle.items())
            ],
            "judged": [[n, v, c] for (n, v), c in sorted(self.judged.items())],
            "late_events": self.late_events,
            "late_shares": self.late_shares,
            "repeated_shares": self.repeated_shares,
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
        for entry in d["idle"]:
            # Before holds were kept, an idle partition was a bare number.
            p, holds, frontier = (entry, [], "inf") if isinstance(entry, int) else entry
            held = frozenset((int(v), float(s)) for v, s in holds)
            board.idle[int(p)] = (held, _inf(frontier))
        for n, v, c in d.get("judged", []):
            board.judged[(str(n), int(v))] = float(c)
        board.late_events = int(d["late_events"])
        board.late_shares = int(d["late_shares"])
        board.repeated_shares = int(d.get("repeated_shares", 0))
        return board


def _num(value: float) -> float | str:
    """JSON has no infinities: written as strings."""
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _inf(value: float | str) -> float:
    return float(value)
