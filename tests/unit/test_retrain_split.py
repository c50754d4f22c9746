"""The time split: the newest rows judge, the older ones train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.features import TARGET
from core.retraining.dataset import EVENT_TIME
from core.retraining.exceptions import NotEnoughLabelledData
from core.retraining.split import time_split


def frame(seconds, labels=None) -> pd.DataFrame:
    n = len(seconds)
    return pd.DataFrame(
        {
            EVENT_TIME: pd.to_datetime(np.asarray(seconds, dtype=float), unit="s", utc=True),
            TARGET: labels if labels is not None else [i % 2 for i in range(n)],
            "row": range(n),
        }
    )


def test_the_newest_share_is_the_holdout_whatever_the_row_order():
    rng = np.random.default_rng(1)
    df = frame(rng.permutation(1000))
    split = time_split(df, holdout_share=0.2)
    assert len(split.holdout) == 200
    assert split.train[EVENT_TIME].max() < split.holdout[EVENT_TIME].min()
    assert split.boundary == split.holdout[EVENT_TIME].min().to_pydatetime()


def test_rows_tied_at_the_boundary_all_go_to_the_holdout():
    df = frame([1, 2, 3, 4, 5, 6, 7, 8, 8, 8])
    split = time_split(df, holdout_share=0.2)
    assert len(split.holdout) == 3
    assert split.train[EVENT_TIME].max() < split.holdout[EVENT_TIME].min()


def test_a_split_side_without_both_classes_is_not_enough_labelled_data():
    df = frame(range(10), labels=[0, 1, 0, 1, 0, 1, 0, 1, 1, 1])
    with pytest.raises(NotEnoughLabelledData, match="holdout"):
        time_split(df, holdout_share=0.2)


def test_too_few_rows_to_split_is_not_enough_labelled_data():
    with pytest.raises(NotEnoughLabelledData):
        time_split(frame([1]), holdout_share=0.2)


def test_the_split_summary_counts_rows_and_positives():
    summary = time_split(frame(range(100)), holdout_share=0.25).to_dict()
    assert (summary["train_rows"], summary["holdout_rows"]) == (75, 25)
    assert summary["holdout_positives"] == 13  # odd rows of 75..99
