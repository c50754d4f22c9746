"""Window assignment for the drift watcher: event-time or count windows, pure and checkpointable.

The Kafka loop feeds events in (``add`` for one, ``add_batch`` for a poll's worth) and
gets back the windows that closed, each holding a mergeable ``WindowState`` and the
topic-partition offset ranges it covers. Nothing here talks to Kafka.

* Event-time windows: size ``size_seconds``, a new one every ``hop_seconds`` (equal to
  the size for tumbling windows). Window starts are multiples of the hop from the epoch,
  so every partition and instance assigns an event to the same windows and partial
  states merge. The watermark is the event time every partition has reached (the
  smallest of the per-partition maxima, when partitions are given) minus the allowed
  lateness; a window closes once the watermark reaches its end. Taking the slowest
  partition matters when a backlog is read partition by partition: one partition
  racing ahead must not make the others' events late. A partition that has stopped
  receiving events holds windows open until it does again. An event whose windows
  have all closed is late: it is counted in ``late_events`` and otherwise dropped.
  ``add_batch`` advances the watermark once per batch (after assigning the batch), which
  is what a poll loop wants; ``add`` is the per-event special case.
* Count windows: ``size_events`` consecutive events in arrival order, a new one every
  ``hop_events``; a window closes when it is full. There is no lateness.

Closed windows are returned whatever their size: the engine declines to judge windows
below ``min_window_events`` and says so in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core.drift.config import DriftConfig
from core.drift.profile import ReferenceProfile
from core.drift.window_state import WindowState, WindowStateError
from core.errors import ConfigError
from core.packing import pack, unpack


@dataclass(frozen=True)
class OffsetRange:
    """First and last offset of one topic-partition that fed a window, and how many of
    the events between them it counted (invalid and late ones are not): with the range,
    the count lets a reader check that every event was counted in exactly one window."""

    topic: str
    partition: int
    first: int
    last: int
    events: int | None = None


@dataclass(eq=False)
class Window:
    """One window: its bounds (event-time seconds), its state and where its events came from."""

    key: float
    """Start time for event-time windows, first event number for count windows."""
    start: float
    end: float
    state: WindowState
    offsets: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    """Events counted per topic-partition (checkpoints written before it restore empty)."""

    @property
    def events(self) -> int:
        return self.state.events

    @property
    def start_time(self) -> datetime:
        """``start`` as an aware UTC datetime (for `DriftAlert.window_start`)."""
        return datetime.fromtimestamp(self.start, UTC)

    @property
    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)

    def offset_ranges(self) -> list[OffsetRange]:
        return [
            OffsetRange(t, p, lo, hi, self.counts.get((t, p)))
            for (t, p), (lo, hi) in sorted(self.offsets.items())
        ]

    def _track(self, topic: str, partitions: npt.NDArray[Any], offsets: npt.NDArray[Any]) -> None:
        for part in np.unique(partitions):
            offs = offsets[partitions == part]
            key = (topic, int(part))
            lo, hi = int(offs.min()), int(offs.max())
            if key in self.offsets:
                old_lo, old_hi = self.offsets[key]
                lo, hi = min(lo, old_lo), max(hi, old_hi)
            self.offsets[key] = (lo, hi)
            self.counts[key] = self.counts.get(key, 0) + int(offs.size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "start": self.start,
            "end": self.end,
            "state": self.state.to_dict(),
            "offsets": [[t, p, lo, hi] for (t, p), (lo, hi) in sorted(self.offsets.items())],
            "counts": [[t, p, n] for (t, p), n in sorted(self.counts.items())],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], profile: ReferenceProfile) -> Window:
        return cls(
            key=float(d["key"]),
            start=float(d["start"]),
            end=float(d["end"]),
            state=WindowState.from_dict(d["state"], profile),
            offsets={(str(t), int(p)): (int(lo), int(hi)) for t, p, lo, hi in d["offsets"]},
            counts={(str(t), int(p)): int(n) for t, p, n in d.get("counts", [])},
        )


def to_seconds(event_time: float | datetime) -> float:
    """Event time as seconds since the epoch (naive datetimes are taken as UTC)."""
    if isinstance(event_time, datetime):
        if event_time.tzinfo is None:
            return event_time.replace(tzinfo=UTC).timestamp()
        return event_time.timestamp()
    return float(event_time)


class WindowManager:
    """Assigns events to windows and hands back the ones that closed.

    >>> import numpy as np, pandas as pd
    >>> from core.drift.profile import ReferenceProfile
    >>> rng = np.random.default_rng(1)
    >>> profile = ReferenceProfile.from_frame(
    ...     pd.DataFrame({"x": rng.normal(size=1_000)}), numeric=["x"], categorical=[])
    >>> windows = WindowManager(profile, size_seconds=60, allowed_lateness_s=5)
    >>> windows.add_batch(np.arange(0, 60.0), {"x": rng.normal(size=60)})
    []
    >>> closed = windows.add_batch(np.array([70.0]), {"x": np.array([0.3])})
    >>> [(w.start, w.end, w.events) for w in closed]
    [(0.0, 60.0, 60)]
    >>> windows.add(10.0, {"x": 1.0}), windows.late_events
    ([], 1)
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        size_seconds: float | None = None,
        size_events: int | None = None,
        hop_seconds: float | None = None,
        hop_events: int | None = None,
        allowed_lateness_s: float = 0.0,
    ) -> None:
        if (size_seconds is None) == (size_events is None):
            raise ConfigError("give exactly one of size_seconds and size_events")
        if size_seconds is not None:
            hop = size_seconds if hop_seconds is None else hop_seconds
            if not (0 < hop <= size_seconds) or hop_events is not None:
                raise ConfigError("event-time windows need 0 < hop_seconds <= size_seconds")
        else:
            count = size_events or 0
            hop = float(count if hop_events is None else hop_events)
            if not (0 < hop <= count) or hop_seconds is not None:
                raise ConfigError("count windows need 0 < hop_events <= size_events")
        if allowed_lateness_s < 0:
            raise ConfigError("allowed_lateness_s must be >= 0")
        self.profile = profile
        self.by_time = size_seconds is not None
        self.size = float(size_seconds if size_seconds is not None else size_events or 0)
        self.hop = float(hop)
        self.allowed_lateness_s = allowed_lateness_s
        self._reset()

    def _reset(self) -> None:
        self.open: dict[float, Window] = {}
        self.max_event_time = -math.inf
        self.partition_time: dict[int, float] = {}
        """Largest event time seen per partition (event-time windows with partitions)."""
        self.late_events = 0
        """Events that arrived after all their windows had closed (dropped)."""
        self.seen = 0
        """Events accepted so far (count windows number events by this)."""

    @classmethod
    def from_config(cls, profile: ReferenceProfile, config: DriftConfig) -> WindowManager:
        if config.window_kind == "event-time":
            return cls(
                profile,
                size_seconds=config.window_seconds,
                hop_seconds=config.hop_seconds,
                allowed_lateness_s=config.allowed_lateness_s,
            )
        return cls(profile, size_events=config.window_events, hop_events=config.hop_events)

    def track_partitions(self, partitions: list[int]) -> None:
        """Partitions with events still to come: each holds the watermark back until its
        first event is seen, so a backlog read one partition after another is not late."""
        for partition in partitions:
            self.partition_time.setdefault(int(partition), -math.inf)

    @property
    def watermark(self) -> float:
        """Event-time windows ending at or before this are closed."""
        reached = min(self.partition_time.values()) if self.partition_time else self.max_event_time
        return reached - self.allowed_lateness_s

    def add(
        self,
        event_time: float | datetime,
        features: Mapping[str, Any],
        *,
        source: tuple[str, int, int] | None = None,
    ) -> list[Window]:
        """One event; ``source`` is its (topic, partition, offset)."""
        columns = {k: np.asarray([v]) for k, v in features.items()}
        if source is None:
            return self.add_batch(np.array([to_seconds(event_time)]), columns)
        topic, partition, offset = source
        return self.add_batch(
            np.array([to_seconds(event_time)]),
            columns,
            topic=topic,
            partitions=np.array([partition]),
            offsets=np.array([offset]),
        )

    def add_batch(
        self,
        event_times: npt.ArrayLike,
        columns: Mapping[str, Any],
        *,
        topic: str | None = None,
        partitions: npt.ArrayLike | None = None,
        offsets: npt.ArrayLike | None = None,
    ) -> list[Window]:
        """A batch of events (event times in epoch seconds, one array per feature)."""
        times = np.asarray(event_times, dtype=np.float64)
        cols = {k: np.asarray(v) for k, v in columns.items()}
        parts = None if partitions is None else np.asarray(partitions)
        offs = None if offsets is None else np.asarray(offsets)
        if times.size == 0:
            return []
        starts = self._starts(times)
        for j in range(starts.shape[1]):
            for key in np.unique(starts[:, j][~np.isnan(starts[:, j])]):
                rows = starts[:, j] == key
                self._add_rows(float(key), rows, times, cols, topic, parts, offs)
        self.late_events += int(np.isnan(starts).all(axis=1).sum())
        self.seen += int((~np.isnan(starts).all(axis=1)).sum())
        self.max_event_time = max(self.max_event_time, float(times.max()))
        if parts is not None and self.by_time:
            for partition in np.unique(parts):
                latest = float(times[parts == partition].max())
                key = int(partition)
                self.partition_time[key] = max(self.partition_time.get(key, -math.inf), latest)
        return self._close()

    def flush(self) -> list[Window]:
        """Close every open window (end of input or shutdown), oldest first."""
        closed = [self.open.pop(k) for k in sorted(self.open)]
        return closed

    def _starts(self, times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per event, the keys of the windows it belongs to (NaN where none or closed)."""
        per_event = math.ceil(self.size / self.hop)
        if self.by_time:
            last = np.floor(times / self.hop) * self.hop
            keys = last[:, None] - np.arange(per_event)[None, :] * self.hop
            ok = (times[:, None] < keys + self.size) & (keys + self.size > self.watermark)
        else:
            index = self.seen + np.arange(times.size, dtype=np.float64)
            last = np.floor(index / self.hop) * self.hop
            keys = last[:, None] - np.arange(per_event)[None, :] * self.hop
            ok = (keys >= 0) & (index[:, None] < keys + self.size)
        return np.where(ok, keys, np.nan)

    def _add_rows(
        self,
        key: float,
        rows: npt.NDArray[np.bool_],
        times: npt.NDArray[np.float64],
        cols: dict[str, npt.NDArray[Any]],
        topic: str | None,
        parts: npt.NDArray[Any] | None,
        offs: npt.NDArray[Any] | None,
    ) -> None:
        window = self.open.get(key)
        if window is None:
            if self.by_time:
                start, end = key, key + self.size
            else:
                start, end = math.inf, -math.inf
            window = Window(key, start, end, WindowState.empty(self.profile))
            self.open[key] = window
        window.state.update({k: v[rows] for k, v in cols.items()})
        if not self.by_time:
            window.start = min(window.start, float(times[rows].min()))
            window.end = max(window.end, float(times[rows].max()))
        if topic is not None and parts is not None and offs is not None:
            window._track(topic, parts[rows], offs[rows])

    def _close(self) -> list[Window]:
        if self.by_time:
            done = [k for k in self.open if k + self.size <= self.watermark]
        else:
            done = [k for k in self.open if k + self.size <= self.seen]
        return [self.open.pop(k) for k in sorted(done)]

    def to_bytes(self) -> bytes:
        """Checkpoint: the open windows and counters (not the profile, given on restore)."""
        d = {
            "by_time": self.by_time,
            "size": self.size,
            "hop": self.hop,
            "allowed_lateness_s": self.allowed_lateness_s,
            "max_event_time": None if math.isinf(self.max_event_time) else self.max_event_time,
            "partition_time": {
                str(k): v for k, v in sorted(self.partition_time.items()) if math.isfinite(v)
            },
            "late_events": self.late_events,
            "seen": self.seen,
            "open": [w.to_dict() for _, w in sorted(self.open.items())],
        }
        return pack(d)

    @classmethod
    def from_bytes(cls, data: bytes, profile: ReferenceProfile) -> WindowManager:
        d = unpack(data, WindowStateError, "window checkpoint")
        if d["by_time"]:
            manager = cls(
                profile,
                size_seconds=d["size"],
                hop_seconds=d["hop"],
                allowed_lateness_s=d["allowed_lateness_s"],
            )
        else:
            manager = cls(profile, size_events=int(d["size"]), hop_events=int(d["hop"]))
        if d["max_event_time"] is not None:
            manager.max_event_time = float(d["max_event_time"])
        manager.partition_time = {int(k): float(v) for k, v in d.get("partition_time", {}).items()}
        manager.late_events = int(d["late_events"])
        manager.seen = int(d["seen"])
        for w in d["open"]:
            window = Window.from_dict(w, profile)
            manager.open[window.key] = window
        return manager
