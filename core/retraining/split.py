"""Train/holdout split by event time: the newest rows are the holdout.

A random split would let the challenger train on events from after some of its holdout
rows; under drift, the recent past is what the next model will face, so the newest
share judges both models. Rows with the same event time as the first holdout row all go
to the holdout, so every training row is strictly older than every holdout row (unless
the whole frame shares one time, when position decides).

>>> import pandas as pd
>>> df = pd.DataFrame({"event_time": pd.to_datetime([5, 1, 4, 2, 3], unit="s", utc=True),
...                    "churned": [1, 0, 0, 1, 1]})
>>> split = time_split(df, holdout_share=0.4)
>>> [t.second for t in split.train["event_time"]], [t.second for t in split.holdout["event_time"]]
([1, 2, 3], [4, 5])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from core.features import TARGET
from core.retraining.dataset import EVENT_TIME
from core.retraining.exceptions import NotEnoughLabelledData


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame
    holdout: pd.DataFrame
    boundary: datetime
    """Event time of the oldest holdout row."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_rows": len(self.train),
            "holdout_rows": len(self.holdout),
            "boundary": self.boundary.isoformat(),
            "train_positives": int(self.train[TARGET].sum()),
            "holdout_positives": int(self.holdout[TARGET].sum()),
        }


def time_split(
    frame: pd.DataFrame, holdout_share: float = 0.2, *, min_class_rows: int = 1
) -> TimeSplit:
    """Oldest `1 - holdout_share` to train, newest `holdout_share` to hold out.

    Raises `NotEnoughLabelledData` when either side lacks `min_class_rows` of a class:
    a holdout with one class has no AUC, a training set with one class no model.
    """
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be between 0 and 1, not {holdout_share}")
    ordered = frame.sort_values(EVENT_TIME, kind="stable").reset_index(drop=True)
    n = len(ordered)
    cut = round(n * (1.0 - holdout_share))
    if not 0 < cut < n:
        raise NotEnoughLabelledData(
            f"{n} rows cannot be split into a training set and a {holdout_share:.0%} holdout",
            rows=n,
            required=2,
        )
    times = ordered[EVENT_TIME].to_numpy()
    tied = int(np.searchsorted(times, times[cut], side="left"))
    if tied > 0:
        cut = tied
    train, holdout = ordered.iloc[:cut], ordered.iloc[cut:]
    for name, part in (("training set", train), ("holdout", holdout)):
        positives = int(part[TARGET].sum())
        if min(positives, len(part) - positives) < min_class_rows:
            raise NotEnoughLabelledData(
                f"the {name} has {positives} churned and {len(part) - positives} retained "
                f"rows; each class needs at least {min_class_rows}",
                rows=n,
                required=min_class_rows,
            )
    return TimeSplit(
        train.reset_index(drop=True),
        holdout.reset_index(drop=True),
        ordered[EVENT_TIME].iloc[cut].to_pydatetime(),
    )
