"""When the judge's board calls a window final, and what survives its checkpoint."""

from __future__ import annotations

import json

from core.merge_board import Incoming, MergeBoard


def share(p: int, start: float, n: int, version: int = 1, whole: bool = False) -> Incoming:
    return Incoming("share", "m", version, p, start, start + 10, start + 10, n, whole)


def mark(p: int, t: float, version: int | None = 1) -> Incoming:
    return Incoming("progress", "m", version, p, mark=t)


def board(partitions: int = 2) -> MergeBoard[int]:
    return MergeBoard[int](partitions, merge=lambda a, b: a + b)


def test_a_partition_never_heard_of_holds_every_window() -> None:
    b = board(3)
    assert b.add(share(0, 0.0, 5), 5) == []
    assert b.add(mark(0, 100.0)) == []
    assert b.add(mark(1, 100.0)) == []
    assert [w.state for w in b.add(mark(2, 10.0))] == [5]


def test_a_partition_that_left_the_version_no_longer_holds_its_windows() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 50.0))
    b.add(mark(1, 3.0))
    assert [w.state for w in b.add(Incoming("left", "m", 1, 1))] == [5]


def test_progress_under_a_later_version_means_past_the_earlier_ones() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 50.0))
    assert [w.model_version for w in b.add(mark(1, 0.0, version=2))] == [1]


def test_an_idle_partition_holds_the_windows_it_still_has_open() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 25.0))
    b.add(share(0, 10.0, 3), 3)
    held = Incoming("idle", "m", None, 1, holds=((1, 0.0),))
    assert [w.start for w in b.add(held)] == [10.0]
    assert [w.state for w in b.add(share(1, 0.0, 4), 4) + b.add(mark(1, 12.0))] == [9]


def test_an_idle_partition_releases_every_window_it_does_not_hold() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 25.0))
    assert [w.state for w in b.add(Incoming("idle", "m", None, 1, holds=((1, 10.0),)))] == [5]


def test_a_share_for_a_window_already_judged_is_late_never_judged_again() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 25.0))
    assert [w.state for w in b.add(Incoming("idle", "m", None, 1))] == [5]
    b.add(mark(1, 3.0))  # it wakes up behind, and then finds events of the judged window
    assert b.add(share(1, 0.0, 2), 2) + b.add(mark(1, 30.0)) == []
    assert (b.late_shares, b.late_events) == (1, 2)


def test_a_whole_share_is_final_at_once_and_alone() -> None:
    b = board()
    assert [(w.state, w.partitions) for w in b.add(share(1, 0.0, 7, whole=True), 7)] == [(7, [1])]


def test_final_windows_come_oldest_first_and_once() -> None:
    b = board(1)
    b.add(share(0, 10.0, 2), 2)
    b.add(share(0, 0.0, 1), 1)
    assert [w.start for w in b.add(mark(0, 30.0))] == [0.0, 10.0]
    assert b.add(mark(0, 40.0)) == []


def test_the_checkpoint_restores_pending_windows_marks_and_idle_partitions() -> None:
    b = board(3)
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 15.0))
    b.add(Incoming("idle", "m", None, 2, holds=((1, 20.0),)))
    d = json.loads(json.dumps(b.to_dict(lambda s: s)))
    again = MergeBoard[int].from_dict(d, lambda a, c: a + c, lambda _v, s: int(s))
    assert (again.marks, again.idle, again.versions) == (b.marks, b.idle, b.versions)
    assert [w.state for w in again.add(mark(1, 10.0))] == [5]


def test_the_checkpoint_remembers_how_far_each_version_was_judged() -> None:
    b = board(1)
    b.add(share(0, 0.0, 5), 5)
    assert [w.state for w in b.add(mark(0, 15.0))] == [5]
    d = json.loads(json.dumps(b.to_dict(lambda s: s)))
    again = MergeBoard[int].from_dict(d, lambda a, c: a + c, lambda _v, s: int(s))
    assert again.add(share(0, 0.0, 1), 1) == []
    assert again.late_shares == 1


def test_a_checkpoint_from_before_idle_holds_reads_as_holding_nothing() -> None:
    d = board(2).to_dict(lambda s: s)
    d["idle"] = [1]
    del d["judged"]
    again = MergeBoard[int].from_dict(d, lambda a, c: a + c, lambda _v, s: int(s))
    assert again.idle == {1: (frozenset(), float("inf"))}


def test_an_idle_partition_releases_windows_only_as_far_as_the_group_had_come() -> None:
    b = board()
    b.add(mark(0, 5.0))
    b.add(Incoming("idle", "m", None, 1))  # quiet while the group is at 5
    b.add(share(0, 0.0, 5), 5)
    assert b.add(mark(0, 25.0)) == []  # its next events may still fall after 5
    assert [w.state for w in b.add(Incoming("idle", "m", None, 1))] == [5]


def test_a_second_share_of_one_partition_for_one_window_is_never_merged() -> None:
    b = board()
    b.add(share(0, 0.0, 5), 5)
    b.add(share(0, 0.0, 5), 5)
    b.add(mark(0, 20.0))
    assert [w.state for w in b.add(share(1, 0.0, 2), 2) + b.add(mark(1, 20.0))] == [7]
    assert b.repeated_shares == 1
