"""Event-time tumbling windows of labelled predictions, per model version.

A prediction and its pair belong to the window of the *prediction's* event time, so a
window describes the model as it was used then, whenever its labels arrive. Window
starts are multiples of ``window_seconds`` from the epoch, so every instance assigns a
prediction to the same window and partial states merge (`MetricState.merge`).

A window waits for its labels: it closes once the watermark reaches its end plus
``label_delay_s``. By then the join buffer (same delay, same watermark, evicting what
the watermark has passed) has paired or evicted every prediction of the window, all
stamped before its end, so its coverage is final. A prediction or
pair for a window already closed is late: counted in ``late`` and dropped (with the
join buffer's lateness rule in front, none should get here).

Next to the windows, one cumulative `MetricState` per version covers everything since
the monitor started (or the version first appeared), for `/metrics` and comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import StreamscoreError
from core.packing import is_columns, pack_columns, unpack, unpack_columns
from core.performance.join import LabelledPair
from core.performance.metrics import MetricState, MetricStateError

ModelKey = tuple[str, int]
"""(model name, model version)."""


class PerformanceWindowsError(StreamscoreError):
    """Performance window state cannot be restored."""

    hint = "the checkpoint is corrupt or from another format: reset the monitor's state"


@dataclass(eq=False)
class ClosedWindow:
    """One model version's closed window: bounds in epoch seconds and its state."""

    model_name: str
    model_version: int
    start: float
    end: float
    state: MetricState

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    @property
    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)


class PerformanceWindows:
    """Tumbling windows per model version, closed by the watermark.

    >>> from core.performance.join import LabelledPair
    >>> windows = PerformanceWindows(window_seconds=60, label_delay_s=30)
    >>> for t in (1.0, 2.0, 3.0):
    ...     _ = windows.add_prediction("churn", 1, t)
    >>> windows.add_pairs([LabelledPair("e1", "churn", 1, 0.9, 1, 1, 1.0, 20.0),
    ...                    LabelledPair("e2", "churn", 1, 0.2, 0, 1, 2.0, 25.0)])
    0
    >>> windows.close(89.0)
    []
    >>> [(w.start, w.end, w.state.labelled, w.state.coverage()) for w in windows.close(90.0)]
    [(0.0, 60.0, 2, 0.6666666666666666)]
    >>> windows.add_prediction("churn", 1, 59.0), windows.late
    (False, 1)
    """

    def __init__(
        self,
        *,
        window_seconds: float,
        label_delay_s: float,
        score_bins: int = 1000,
        calibration_bins: int = 10,
    ) -> None:
        if not (window_seconds > 0 and math.isfinite(window_seconds)):
            raise ValueError("window_seconds must be a finite number > 0")
        if not (label_delay_s >= 0 and math.isfinite(label_delay_s)):
            raise ValueError("label_delay_s must be a finite number >= 0")
        self.window_seconds = float(window_seconds)
        self.label_delay_s = float(label_delay_s)
        self.score_bins = score_bins
        self.calibration_bins = calibration_bins
        self._reset()

    def _reset(self) -> None:
        self.open: dict[tuple[str, int, float], MetricState] = {}
        """Open windows by (model name, model version, start)."""
        self.cumulative: dict[ModelKey, MetricState] = {}
        self.watermark = -math.inf
        self.late = 0
        """Predictions and pairs that arrived after their window had closed."""

    def _empty(self) -> MetricState:
        return MetricState(self.score_bins, self.calibration_bins)

    def window_start(self, event_time: float) -> float:
        return math.floor(event_time / self.window_seconds) * self.window_seconds

    def _is_closed(self, start: float) -> bool:
        return start + self.window_seconds + self.label_delay_s <= self.watermark

    def add_prediction(self, model_name: str, model_version: int, event_time: float) -> bool:
        """Count one prediction in its window; False (and counted late) if it closed."""
        start = self.window_start(event_time)
        if self._is_closed(start):
            self.late += 1
            return False
        key = (model_name, int(model_version), start)
        # get-then-create: setdefault would build (and drop) two 1,000-bin states per call.
        state = self.open.get(key)
        if state is None:
            state = self.open[key] = self._empty()
        state.predictions += 1
        model = (model_name, int(model_version))
        total = self.cumulative.get(model)
        if total is None:
            total = self.cumulative[model] = self._empty()
        total.predictions += 1
        return True

    def add_predictions(
        self, model_name: str, model_version: int, event_times: npt.ArrayLike
    ) -> int:
        """`add_prediction` for many predictions of one version at once; returns how
        many were late."""
        times = np.asarray(event_times, dtype=np.float64)
        if times.size == 0:
            return 0
        starts = np.floor(times / self.window_seconds) * self.window_seconds
        closed = starts + self.window_seconds + self.label_delay_s <= self.watermark
        late = int(np.count_nonzero(closed))
        counted, counts = np.unique(starts[~closed], return_counts=True)
        version = int(model_version)
        for start, count in zip(counted.tolist(), counts.tolist(), strict=True):
            key = (model_name, version, start)
            state = self.open.get(key)
            if state is None:
                state = self.open[key] = self._empty()
            state.predictions += count
        if late < times.size:
            model = (model_name, version)
            total = self.cumulative.get(model)
            if total is None:
                total = self.cumulative[model] = self._empty()
            total.predictions += times.size - late
        self.late += late
        return late

    def add_pairs(self, pairs: Iterable[LabelledPair]) -> int:
        """Add labelled pairs to their windows, vectorised per window; returns how many
        were late."""
        by_model: dict[ModelKey, list[LabelledPair]] = {}
        for pair in pairs:
            by_model.setdefault((pair.model_name, pair.model_version), []).append(pair)
        late = 0
        for (name, version), members in by_model.items():
            late += self.add_labelled(
                name,
                version,
                [p.predicted_at for p in members],
                [p.probability for p in members],
                [p.prediction for p in members],
                [p.label for p in members],
            )
        return late

    def add_labelled(
        self,
        model_name: str,
        model_version: int,
        predicted_at: npt.ArrayLike,
        probability: npt.ArrayLike,
        prediction: npt.ArrayLike,
        label: npt.ArrayLike,
    ) -> int:
        """Labelled pairs of one version as columns, one vectorised update per window;
        returns how many were late. A window's state is the same whichever way or order
        its pairs arrive (`MetricState` sums exactly)."""
        times = np.asarray(predicted_at, dtype=np.float64)
        if times.size == 0:
            return 0
        p = np.asarray(probability, dtype=np.float64)
        pred = np.asarray(prediction, dtype=np.int64)
        y = np.asarray(label, dtype=np.int64)
        starts = np.floor(times / self.window_seconds) * self.window_seconds
        closed = starts + self.window_seconds + self.label_delay_s <= self.watermark
        late = int(np.count_nonzero(closed))
        version = int(model_version)
        live = ~closed
        if late:
            starts, p, pred, y = starts[live], p[live], pred[live], y[live]
        if starts.size:
            for start in np.unique(starts).tolist():
                members = starts == start
                key = (model_name, version, start)
                self.open.setdefault(key, self._empty()).update(
                    p[members], pred[members], y[members]
                )
            self.cumulative.setdefault((model_name, version), self._empty()).update(p, pred, y)
        self.late += late
        return late

    def close(self, watermark: float) -> list[ClosedWindow]:
        """Advance the watermark (never back); windows it closed, oldest first."""
        self.watermark = max(self.watermark, watermark)
        done = [k for k in self.open if self._is_closed(k[2])]
        return [self._closed(k) for k in sorted(done, key=lambda k: (k[2], k[0], k[1]))]

    def flush(self) -> list[ClosedWindow]:
        """Close every open window (end of input), oldest first."""
        keys = sorted(self.open, key=lambda k: (k[2], k[0], k[1]))
        return [self._closed(k) for k in keys]

    def _closed(self, key: tuple[str, int, float]) -> ClosedWindow:
        name, version, start = key
        state = self.open.pop(key)
        return ClosedWindow(name, version, start, start + self.window_seconds, state)

    def to_bytes(self) -> bytes:
        """Checkpoint: open windows, cumulative states and counters; the states'
        histograms as integer columns (`core.packing.pack_columns`), since every batch
        writes them."""
        opened = sorted(self.open.items())
        totals = sorted(self.cumulative.items())
        states = [st for _, st in opened] + [st for _, st in totals]
        d = {
            "window_seconds": self.window_seconds,
            "label_delay_s": self.label_delay_s,
            "score_bins": self.score_bins,
            "calibration_bins": self.calibration_bins,
            "watermark": None if math.isinf(self.watermark) else self.watermark,
            "late": self.late,
            "open": [[n, v, s, st.scalars()] for (n, v, s), st in opened],
            "cumulative": [[n, v, st.scalars()] for (n, v), st in totals],
        }
        columns = {
            name: np.concatenate([getattr(st, name) for st in states])
            if states
            else np.zeros(0, np.int64)
            for name in MetricState._ARRAYS
        }
        return pack_columns(d, columns)

    @classmethod
    def from_bytes(cls, data: bytes) -> PerformanceWindows:
        if is_columns(data):
            d, columns = unpack_columns(data, PerformanceWindowsError, "window checkpoint")
            try:
                windows = cls(
                    window_seconds=d["window_seconds"],
                    label_delay_s=d["label_delay_s"],
                    score_bins=int(d["score_bins"]),
                    calibration_bins=int(d["calibration_bins"]),
                )
                windows._restore_columns(d, columns)
            except (ValueError, KeyError, TypeError, MetricStateError) as exc:
                raise PerformanceWindowsError(f"window checkpoint is unreadable: {exc!r}") from None
            return windows
        d = unpack(data, PerformanceWindowsError, "window checkpoint")
        try:
            windows = cls(
                window_seconds=d["window_seconds"],
                label_delay_s=d["label_delay_s"],
                score_bins=int(d["score_bins"]),
                calibration_bins=int(d["calibration_bins"]),
            )
            windows._restore(d)
        except (ValueError, KeyError, TypeError, MetricStateError) as exc:
            raise PerformanceWindowsError(f"window checkpoint is unreadable: {exc!r}") from None
        return windows

    def _restore_columns(
        self, d: Mapping[str, Any], columns: Mapping[str, npt.NDArray[Any]]
    ) -> None:
        if d["watermark"] is not None:
            self.watermark = float(d["watermark"])
        self.late = int(d["late"])
        bins, calibration = self.score_bins, self.calibration_bins
        positives = columns["positives"].reshape(-1, bins)
        negatives = columns["negatives"].reshape(-1, bins)
        probability = columns["probability_fx"].reshape(-1, calibration)
        if (
            not len(positives)
            == len(negatives)
            == len(probability)
            == len(d["open"]) + len(d["cumulative"])
        ):
            raise ValueError("window checkpoint holds a different number of states and arrays")
        for i, (name, version, start, scalars) in enumerate(d["open"]):
            self.open[(str(name), int(version), float(start))] = MetricState.from_parts(
                scalars, positives[i], negatives[i], probability[i]
            )
        offset = len(d["open"])
        for i, (name, version, scalars) in enumerate(d["cumulative"], start=offset):
            self.cumulative[(str(name), int(version))] = MetricState.from_parts(
                scalars, positives[i], negatives[i], probability[i]
            )

    def _restore(self, d: Mapping[str, Any]) -> None:
        if d["watermark"] is not None:
            self.watermark = float(d["watermark"])
        self.late = int(d["late"])
        for name, version, start, packed in d["open"]:
            self.open[(str(name), int(version), float(start))] = MetricState.from_dict(packed)
        for name, version, packed in d["cumulative"]:
            self.cumulative[(str(name), int(version))] = MetricState.from_dict(packed)
