"""When a quiet partition is announced idle, and what the announcement says."""

from __future__ import annotations

import json

from core.records import OutRecord
from core.window_shares import IdleTracker


def test_a_quiet_partition_read_to_its_end_is_announced_with_the_windows_it_holds() -> None:
    tracker = IdleTracker(0.0)
    tracker.assigned([0, 1])
    sent: list[OutRecord] = []
    quiet = tracker.announce(
        "m", "partials", lambda due: set(due), lambda p: [(2, 60.0)], sent.extend
    )
    assert quiet == [0, 1]
    record = json.loads(sent[0].value)
    assert (record["kind"], record["partition"], record["holds"]) == ("idle", 0, [[2, 60.0]])


def test_a_quiet_partition_with_records_unread_is_not_idle_and_is_asked_again_later() -> None:
    tracker = IdleTracker(30.0)
    tracker.assigned([0, 1], now=0.0)
    assert tracker.due(now=31.0) == [0, 1]
    tracker.not_yet([1], now=31.0)
    assert tracker.due(now=32.0) == [0]
    assert tracker.due(now=62.0) == [0, 1]


def test_a_quiet_partition_is_announced_again_every_idle_period_until_it_delivers() -> None:
    tracker = IdleTracker(10.0)
    tracker.assigned([0], now=0.0)
    assert tracker.due(now=10.0) == [0]
    tracker.announced([0], now=10.0)
    assert tracker.due(now=15.0) == []
    assert tracker.due(now=20.0) == [0]
    tracker.delivered([0], now=21.0)
    assert tracker.due(now=30.0) == []
