"""What a partition's worker tells its group's judge: window shares and event-time progress.

A stateful consumer that scales by partitions keeps its windows per input partition.
When a partition's own watermark passes a window, that partition's share of the window
is final, and the worker publishes it (`share`) on a partials topic, in the same
transaction as its input offsets and its checkpoint; with it goes the partition's
watermark (`progress`). When the worker stops using a model version for a partition it
says so (`left`), and a partition that has delivered nothing for a while is announced
`idle` (once read to its end), so it does not hold the group's windows open for
ever: it names the windows it still has open, and holds only those. One judge per group reads
the topic and merges the shares (`core.merge_board`).

Records are JSON (`WindowShare`), keyed so that a compacted topic keeps every share and
the latest progress of each partition.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.records import OutRecord
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION

ShareKind = Literal["share", "progress", "left", "idle"]
_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class WindowShare(BaseModel):
    """One record of a partials topic (`topics.drift_partials`, `topics.monitor_partials`)."""

    model_config = ConfigDict(extra="forbid")

    kind: ShareKind = Field(
        description="share: one partition's final part of one window; progress: the "
        "partition's watermark; left: the partition stopped using `model_version`; idle: "
        "the partition is read to its end, has delivered nothing for a while, and holds "
        "open only the windows in `holds`"
    )
    model_name: str = Field(description="Model the window belongs to")
    model_version: int | None = Field(
        default=None,
        description="Version the window or progress belongs to; null: every version",
    )
    partition: int = Field(ge=0, description="Input partition the record speaks for")
    window_start: float | None = Field(
        default=None, description="share: window start, epoch seconds (count windows: key)"
    )
    window_end: float | None = Field(default=None, description="share: window end")
    closes_at: float | None = Field(
        default=None,
        description="share: the watermark every partition must pass for the window to be "
        "final (its end, plus the label delay for performance windows)",
    )
    whole: bool = Field(
        default=False,
        description="share: the share is the whole window (count windows), judged alone",
    )
    mark: float | None = Field(
        default=None, description="progress: the partition's watermark, epoch seconds"
    )
    holds: list[tuple[int, float]] = Field(
        default_factory=list,
        description="idle: the windows (model version, start) the partition still has open; "
        "the judge waits for their shares and releases every other window up to the "
        "group's event time (docs/scaling.md)",
    )
    events: int = Field(default=0, ge=0, description="share: events in the share")
    state: str | None = Field(
        default=None, description="share: the share's state, packed (zlib JSON), base64"
    )

    def key(self) -> bytes:
        if self.kind == "share":
            return (
                f"{self.model_name}:{self.model_version}:{self.window_start!r}:{self.partition}"
            ).encode()
        return f"{self.model_name}:progress:{self.partition}".encode()

    def to_record(self, topic: str) -> OutRecord:
        return OutRecord(topic, self.model_dump_json().encode(), self.key(), _HEADERS)

    def packed_state(self) -> bytes:
        return base64.b64decode(self.state or "")


def share(
    model_name: str,
    model_version: int,
    partition: int,
    *,
    start: float,
    end: float,
    closes_at: float,
    events: int,
    state: bytes,
    whole: bool = False,
) -> WindowShare:
    return WindowShare(
        kind="share",
        model_name=model_name,
        model_version=model_version,
        partition=partition,
        window_start=start,
        window_end=end,
        closes_at=closes_at,
        whole=whole,
        events=events,
        state=base64.b64encode(state).decode(),
    )


def progress(
    model_name: str, model_version: int | None, partition: int, mark: float
) -> WindowShare | None:
    """The partition's watermark, or None while it has none (no event yet)."""
    if not math.isfinite(mark):
        return None
    return WindowShare(
        kind="progress",
        model_name=model_name,
        model_version=model_version,
        partition=partition,
        mark=mark,
    )


def idle(model_name: str, partition: int, holds: Iterable[tuple[int, float]]) -> WindowShare:
    """The partition is read to its end and quiet: it holds only the windows it has open."""
    return WindowShare(
        kind="idle", model_name=model_name, partition=partition, holds=sorted(set(holds))
    )


class IdleTracker:
    """Which assigned partitions have delivered nothing for `idle_s` of wall time.

    Event time cannot tell a partition that is quiet from one that is slow, so idleness
    is the only wall-clock rule, and only a partition read to its end is announced (a
    worker cut off from the broker, or behind, is not quiet). It is announced every
    `idle_s` while quiet, still holding the windows it has open, and it holds the group's
    windows again as soon as it delivers (its next progress record).

    >>> tracker = IdleTracker(10.0)
    >>> tracker.assigned([0, 1], now=0.0)
    >>> tracker.delivered([0], now=8.0)
    >>> tracker.due(now=12.0)
    [1]
    >>> tracker.announced([1], now=12.0); tracker.due(now=20.0), tracker.due(now=22.0)
    ([0], [0, 1])
    """

    def __init__(self, idle_s: float | None) -> None:
        self.idle_s = idle_s
        self._last: dict[int, float] = {}

    def assigned(self, partitions: Iterable[int], now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for p in partitions:
            self._last[p] = at

    def revoked(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self._last.pop(p, None)

    def delivered(self, partitions: Iterable[int], now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for p in partitions:
            if p in self._last:
                self._last[p] = at

    def due(self, now: float | None = None) -> list[int]:
        """Partitions to announce idle now."""
        if self.idle_s is None:
            return []
        at = time.monotonic() if now is None else now
        return sorted(p for p, last in self._last.items() if at - last >= self.idle_s)

    def announced(self, partitions: Iterable[int], now: float | None = None) -> None:
        """Announced now: announced again after another `idle_s` if still quiet, so the
        judge's idea of where it stands follows the group's event time."""
        self.assigned([p for p in partitions if p in self._last], now)

    def not_yet(self, partitions: Iterable[int], now: float | None = None) -> None:
        """Partitions found unread to their end: asked again after another `idle_s`."""
        self.announced(partitions, now)

    def announce(
        self,
        model_name: str,
        topic: str,
        caught_up: Callable[[list[int]], set[int]],
        holds: Callable[[int], Iterable[tuple[int, float]]],
        send: Callable[[list[OutRecord]], None],
    ) -> list[int]:
        """Announce the partitions due and read to their end, each with the windows it
        holds open (outside any transaction: the record carries no progress of its own).
        Returns those announced; raises what `send` raises, and they stay due."""
        due = self.due()
        if not due:
            return []
        quiet = caught_up(due)
        self.not_yet(p for p in due if p not in quiet)
        ready = [p for p in due if p in quiet]
        if not ready:
            return []
        send([idle(model_name, p, holds(p)).to_record(topic) for p in ready])
        self.announced(ready)
        return ready
