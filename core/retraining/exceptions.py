"""Errors of the retraining pieces; each becomes a "rejected" decision, never a crash."""

from __future__ import annotations

from core.errors import StreamscoreError


class RetrainingError(StreamscoreError):
    """Base of every retraining error."""

    hint = "see the retrain decision's reason; the champion keeps serving"


class NotEnoughLabelledData(RetrainingError):
    """Too few labelled rows (or one class only) to train and judge a challenger.

    The consumer records it as "rejected: not enough labelled data": retraining on a
    handful of labels would promote noise.
    """

    hint = (
        "wait for more outcomes on the outcomes topic, widen the lookback "
        "(retrain.lookback_s / retrain.max_events) or lower retrain.min_labelled_rows"
    )

    def __init__(self, message: str, *, rows: int, required: int) -> None:
        super().__init__(message)
        self.rows = rows
        self.required = required


class GateError(RetrainingError):
    """The champion and challenger cannot be compared on the holdout given."""

    hint = "gate on a holdout with both classes and the model's feature columns"
