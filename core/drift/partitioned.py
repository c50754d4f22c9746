"""Drift windows kept per input partition, and the shares they hand to the judge.

Each input partition has its own `WindowManager`, so its windows close at its own
watermark (its largest event time minus the allowed lateness). That makes a partition's
shares depend only on its own events, in its own order: the same whatever the number of
watchers, whichever watcher owns it, whatever rebalances happened. A closed window's
share goes to the judge (`core.window_shares`), which merges every partition's share of
the window (`core.merge_board`, exactly: `WindowState.merge`) and judges it once.

Count windows count one partition's events in its own order, so each is whole in its
partition and judged alone (events of different partitions have no common order).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from core.drift.config import DriftConfig
from core.drift.profile import ReferenceProfile
from core.drift.window_state import WindowStateError
from core.drift.windows import Window, WindowManager
from core.event_columns import EventColumns
from core.packing import pack, unpack
from core.window_shares import WindowShare, progress, share


def window_share(
    model_name: str, version: int, partition: int, window: Window, by_time: bool
) -> WindowShare:
    return share(
        model_name,
        version,
        partition,
        start=window.key,
        end=window.end,
        closes_at=window.end,
        events=window.events,
        state=pack(window.to_dict(), 1),
        whole=not by_time,
    )


def read_window(data: bytes, profile: ReferenceProfile) -> Window:
    return Window.from_dict(unpack(data, WindowStateError, "window share"), profile)


def merge_windows(a: Window, b: Window) -> Window:
    """`b` added into `a`: states merged exactly, offset ranges joined."""
    a.state.merge(b.state)
    for key, (lo, hi) in b.offsets.items():
        old = a.offsets.get(key)
        a.offsets[key] = (lo, hi) if old is None else (min(lo, old[0]), max(hi, old[1]))
    for key, n in b.counts.items():
        a.counts[key] = a.counts.get(key, 0) + n
    return a


class PartitionedWindows:
    """The windows of the partitions one watcher owns, all on one reference version."""

    def __init__(
        self, profile: ReferenceProfile, version: int, config: DriftConfig, model_name: str
    ) -> None:
        self.profile = profile
        self.version = version
        self.config = config
        self.model_name = model_name
        self.managers: dict[int, WindowManager] = {}

    @property
    def by_time(self) -> bool:
        return self.config.window_kind == "event-time"

    def assign(self, partition: int, manager: WindowManager | None = None) -> None:
        fresh = manager or WindowManager.from_config(self.profile, self.config)
        fresh.track_partitions([partition])
        self.managers[partition] = fresh

    def revoke(self, partition: int) -> None:
        self.managers.pop(partition, None)

    def add(self, decoded: EventColumns, topic: str) -> tuple[list[WindowShare], list[int]]:
        """Shares of the windows the batch closed and each partition's progress; and the
        partitions whose state changed."""
        out: list[WindowShare] = []
        touched: list[int] = []
        for part in np.unique(decoded.partitions):
            p = int(part)
            manager = self.managers.get(p)
            if manager is None:
                continue
            rows = decoded.partitions == part
            closed = manager.add_batch(
                decoded.event_times[rows],
                {k: v[rows] for k, v in decoded.columns.items()},
                topic=topic,
                partitions=decoded.partitions[rows],
                offsets=decoded.offsets[rows],
            )
            out += [self._share(p, w) for w in closed]
            if self.by_time:
                mark = progress(self.model_name, self.version, p, manager.watermark)
                if mark is not None:
                    out.append(mark)
            touched.append(p)
        return out, touched

    def leave(self, partition: int) -> list[WindowShare]:
        """The partition stops using this version: its open windows, final now, and a
        `left` record so the judge does not wait for more of this version from it."""
        manager = self.managers.get(partition)
        if manager is None:
            return []
        out = [self._share(partition, w) for w in manager.flush()]
        out.append(
            WindowShare(
                kind="left",
                model_name=self.model_name,
                model_version=self.version,
                partition=partition,
            )
        )
        return out

    def _share(self, partition: int, window: Window) -> WindowShare:
        return window_share(self.model_name, self.version, partition, window, self.by_time)

    def checkpoint(self, partition: int) -> bytes:
        return pack(
            {
                "model_version": self.version,
                "windows": base64.b64encode(self.managers[partition].to_bytes()).decode(),
            },
            1,
        )

    @staticmethod
    def read_checkpoint(data: bytes) -> tuple[int, bytes]:
        """(model version, window manager bytes) of one partition's checkpoint."""
        d: dict[str, Any] = unpack(data, WindowStateError, "partition window checkpoint")
        return int(d["model_version"]), base64.b64decode(d["windows"])

    def status(self) -> dict[str, Any]:
        return {
            "open_windows": sum(len(m.open) for m in self.managers.values()),
            "late_events": sum(m.late_events for m in self.managers.values()),
            "events_seen": sum(m.seen for m in self.managers.values()),
        }
