"""What the drift watchers of a group have committed: per-partition windows, summed."""

from __future__ import annotations

from dataclasses import dataclass

from core.drift.partitioned import PartitionedWindows
from core.drift.profile import ReferenceProfile
from core.drift.window_record import DriftWindow
from core.drift.windows import WindowManager
from core.kafka.changelog import CheckpointStore
from core.registry import ModelRegistry
from core.settings import Settings
from tests.integration.kafka_io import read_committed


@dataclass(frozen=True)
class Committed:
    partitions: dict[int, WindowManager]

    @property
    def seen(self) -> int:
        return sum(m.seen for m in self.partitions.values())

    @property
    def late_events(self) -> int:
        return sum(m.late_events for m in self.partitions.values())

    @property
    def open_events(self) -> int:
        return sum(w.events for m in self.partitions.values() for w in m.open.values())


def committed(settings: Settings) -> Committed:
    store = CheckpointStore(settings, settings.topics.drift_state, settings.drift.group_id)
    restored = store.restore(range(settings.kafka.partitions))
    registry = ModelRegistry(settings.registry.path)
    out: dict[int, WindowManager] = {}
    for p, raw in restored.items():
        if p is None:
            continue
        version, windows = PartitionedWindows.read_checkpoint(raw)
        profile = ReferenceProfile.from_dict(
            registry.reference_profile(settings.registry.model_name, version)
        )
        out[p] = WindowManager.from_bytes(windows, profile)
    return Committed(out)


def judged_events(settings: Settings, idle_s: float = 2.0) -> list[int]:
    """Events of every window the judge published on `drift_windows`."""
    records = read_committed(settings, settings.topics.drift_windows, 0, idle_s=idle_s)
    return [DriftWindow.model_validate_json(r.value()).events for r in records]
