"""Window assignment: tumbling and hopping, by time or count, lateness, offsets, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.drift.config import DriftConfig
from core.drift.profile import ReferenceProfile
from core.drift.windows import WindowManager
from core.errors import ConfigError


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=2_000), "c": rng.choice(["a", "b"], 2_000)})
    return ReferenceProfile.from_frame(df, ["x"], ["c"])


def cols(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)}


def test_tumbling_time_windows_close_when_the_watermark_passes_their_end(
    profile: ReferenceProfile,
) -> None:
    manager = WindowManager(profile, size_seconds=10, allowed_lateness_s=2)
    assert manager.add_batch(np.arange(0, 11.5, 0.5), cols(23)) == []  # watermark 9.5
    closed = manager.add_batch(np.array([12.0]), cols(1))  # watermark 10
    assert [(w.start, w.end, w.events) for w in closed] == [(0.0, 10.0, 20)]
    assert closed[0].end_time.isoformat() == "1970-01-01T00:00:10+00:00"
    assert set(manager.open) == {10.0}


def test_events_within_the_allowed_lateness_still_count(profile: ReferenceProfile) -> None:
    manager = WindowManager(profile, size_seconds=10, allowed_lateness_s=5)
    manager.add_batch(np.array([1.0, 12.0]), cols(2))
    manager.add(9.0, {"x": 0.1, "c": "a"})  # watermark 7: window [0, 10) still open
    closed = manager.add(16.0, {"x": 0.1, "c": "a"})
    assert [w.events for w in closed] == [2]
    assert manager.late_events == 0


def test_events_beyond_the_allowed_lateness_are_counted_as_late_and_dropped(
    profile: ReferenceProfile,
) -> None:
    manager = WindowManager(profile, size_seconds=10, allowed_lateness_s=1)
    manager.add_batch(np.array([1.0, 25.0]), cols(2))
    assert manager.add(3.0, {"x": 0.0, "c": "a"}) == []
    assert manager.late_events == 1
    assert all(w.start != 0.0 for w in manager.open.values())


def test_hopping_time_windows_hold_each_event_in_size_over_hop_windows(
    profile: ReferenceProfile,
) -> None:
    manager = WindowManager(profile, size_seconds=10, hop_seconds=5)
    closed = manager.add_batch(np.arange(0.0, 30.0), cols(30)) + manager.flush()
    spans = [(w.start, w.end, w.events) for w in closed]
    assert spans[:3] == [(-5.0, 5.0, 5), (0.0, 10.0, 10), (5.0, 15.0, 10)]
    assert sum(w.events for w in closed) == 60


def test_count_windows_close_every_n_events_across_batches(profile: ReferenceProfile) -> None:
    manager = WindowManager(profile, size_events=100)
    closed = manager.add_batch(np.arange(250.0), cols(250))
    closed += manager.add_batch(np.arange(250.0, 300.0), cols(50))
    assert [(w.events, w.start, w.end) for w in closed] == [
        (100, 0.0, 99.0),
        (100, 100.0, 199.0),
        (100, 200.0, 299.0),
    ]


def test_hopping_count_windows_overlap(profile: ReferenceProfile) -> None:
    manager = WindowManager(profile, size_events=100, hop_events=50)
    closed = manager.add_batch(np.arange(300.0), cols(300))
    assert [(w.start, w.events) for w in closed] == [(0.0, 100), (50.0, 100), (100.0, 100),
                                                     (150.0, 100), (200.0, 100)]  # fmt: skip


def test_windows_record_the_offset_range_of_every_partition(profile: ReferenceProfile) -> None:
    manager = WindowManager(profile, size_events=6)
    manager.add_batch(
        np.arange(4.0), cols(4), topic="customer-events",
        partitions=np.array([0, 1, 0, 1]), offsets=np.array([10, 7, 11, 8]),
    )  # fmt: skip
    (window,) = manager.add_batch(
        np.arange(4.0, 6.0), cols(2), topic="customer-events",
        partitions=np.array([0, 2]), offsets=np.array([12, 3]),
    )  # fmt: skip
    assert [(o.partition, o.first, o.last) for o in window.offset_ranges()] == [
        (0, 10, 12),
        (1, 7, 8),
        (2, 3, 3),
    ]


def test_a_checkpointed_manager_resumes_where_it_stopped(profile: ReferenceProfile) -> None:
    straight = WindowManager(profile, size_seconds=10, allowed_lateness_s=1)
    resumed = WindowManager(profile, size_seconds=10, allowed_lateness_s=1)
    times, data = np.arange(0.0, 40.0, 0.25), cols(160)
    first = {k: v[:80] for k, v in data.items()}
    rest = {k: v[80:] for k, v in data.items()}
    expected = straight.add_batch(times[:80], first) + straight.add_batch(times[80:], rest)
    got = resumed.add_batch(times[:80], first)
    resumed = WindowManager.from_bytes(resumed.to_bytes(), profile)
    got += resumed.add_batch(times[80:], rest)
    assert [w.to_dict() for w in got] == [w.to_dict() for w in expected]
    assert resumed.watermark == straight.watermark


def test_batch_and_per_event_feeding_close_the_same_windows(profile: ReferenceProfile) -> None:
    times = np.sort(np.random.default_rng(2).uniform(0, 100, 200))
    data = cols(200)
    batched = WindowManager(profile, size_seconds=20).add_batch(times, data)
    single = WindowManager(profile, size_seconds=20)
    closed = []
    for i, t in enumerate(times):
        closed += single.add(float(t), {k: v[i] for k, v in data.items()})
    assert len(batched) == 4
    assert [(w.start, w.events) for w in closed] == [(w.start, w.events) for w in batched]
    for a, b in zip(closed, batched, strict=False):
        assert (a.state.numeric["x"].counts == b.state.numeric["x"].counts).all()
        assert a.state.categorical["c"].counts == b.state.categorical["c"].counts


def test_manager_built_from_settings_uses_seconds_when_given(profile: ReferenceProfile) -> None:
    by_time = WindowManager.from_config(profile, DriftConfig(window_seconds=60, hop_seconds=30))
    assert (by_time.by_time, by_time.size, by_time.hop) == (True, 60.0, 30.0)
    by_count = WindowManager.from_config(
        profile, DriftConfig(window_kind="count", window_events=1000)
    )
    assert (by_count.by_time, by_count.size) == (False, 1000.0)


def test_impossible_window_shapes_are_config_errors(profile: ReferenceProfile) -> None:
    with pytest.raises(ConfigError):
        WindowManager(profile, size_seconds=10, hop_seconds=20)
    with pytest.raises(ConfigError):
        WindowManager(profile, size_seconds=10, size_events=5)


def test_a_backlog_read_partition_by_partition_makes_no_event_late() -> None:
    """Partition 0's whole backlog arrives first; partition 1's older events still count."""
    import numpy as np
    import pandas as pd

    from core.drift.profile import ReferenceProfile
    from core.drift.windows import WindowManager

    rng = np.random.default_rng(4)
    profile = ReferenceProfile.from_frame(
        pd.DataFrame({"x": rng.normal(size=2000)}), numeric=["x"], categorical=[]
    )
    windows = WindowManager(profile, size_seconds=10, allowed_lateness_s=1)
    windows.track_partitions([0, 1])
    times = np.arange(0, 60, 0.1)
    closed = windows.add_batch(
        times,
        {"x": rng.normal(size=times.size)},
        topic="t",
        partitions=np.zeros(times.size, int),
        offsets=np.arange(times.size),
    )
    assert closed == [], "partition 1 has not reached any window end yet"
    closed = windows.add_batch(
        times,
        {"x": rng.normal(size=times.size)},
        topic="t",
        partitions=np.ones(times.size, int),
        offsets=np.arange(times.size),
    )
    assert windows.late_events == 0
    assert [w.events for w in closed] == [200] * 5
    restored = WindowManager.from_bytes(windows.to_bytes(), profile)
    assert restored.partition_time == windows.partition_time


def test_windows_count_their_events_per_partition_and_keep_the_counts_in_checkpoints(
    profile: ReferenceProfile,
) -> None:
    manager = WindowManager(profile, size_events=6)
    manager.add_batch(
        np.arange(4.0), cols(4), topic="customer-events",
        partitions=np.array([0, 1, 0, 1]), offsets=np.array([10, 7, 12, 8]),
    )  # fmt: skip
    restored = WindowManager.from_bytes(manager.to_bytes(), profile)
    (window,) = restored.add_batch(
        np.arange(4.0, 6.0), cols(2), topic="customer-events",
        partitions=np.array([0, 2]), offsets=np.array([13, 3]),
    )  # fmt: skip
    assert [(o.partition, o.first, o.last, o.events) for o in window.offset_ranges()] == [
        (0, 10, 13, 3),
        (1, 7, 8, 2),
        (2, 3, 3, 1),
    ]
