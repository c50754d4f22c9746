"""The predictor's direct path gives the Pipeline's probabilities, or steps aside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from core.predictor import Predictor
from core.schemas import CustomerEventFields
from core.scoring import feature_columns
from core.training import build_pipeline, train_and_evaluate
from core.validation import parse_event
from producers.generator import ChurnGenerator
from producers.invalid import encode


def feature_frame(events: Sequence[CustomerEventFields]) -> pd.DataFrame:
    """What a whole Pipeline takes: the same columns as a DataFrame."""
    return pd.DataFrame(feature_columns(events))


def batch(n: int, seed: int = 5) -> list[Any]:
    return [parse_event(encode(e), 65536) for e, _ in ChurnGenerator(seed=seed).events(n)]


@pytest.mark.parametrize("kind", ["logistic", "forest", "hgb"])
def test_the_direct_path_equals_the_pipeline_for_every_model_kind(kind: str) -> None:
    model = train_and_evaluate(ChurnGenerator(seed=1).reference(3000), kind, 1).model
    predict = Predictor(model)
    for size in (1, 70, 2000):
        events = batch(size, seed=size)
        expected = model.predict_proba(feature_frame(events))[:, 1]
        assert np.array_equal(predict(feature_columns(events)), expected)
    assert predict.direct


def test_an_unseen_category_is_encoded_as_the_pipeline_does() -> None:
    model = train_and_evaluate(ChurnGenerator(seed=1).reference(3000), "logistic", 1).model
    predict = Predictor(model)
    columns = feature_columns(batch(50))
    predict(columns)
    columns["contract_type"][:10] = "quarterly"
    expected = model.predict_proba(
        feature_frame(batch(50)).assign(contract_type=columns["contract_type"])
    )[:, 1]
    assert np.array_equal(predict(columns), expected)


def test_a_model_of_another_shape_uses_its_own_predict_proba() -> None:
    frame = ChurnGenerator(seed=1).reference(500)
    model = LogisticRegression().fit(frame[["age", "tenure_months"]], frame["churned"])
    predict = Predictor(model)
    assert not predict.direct
    columns = {"age": np.array([30.0, 60.0]), "tenure_months": np.array([1.0, 60.0])}
    assert predict(columns).shape == (2,)


def test_a_direct_path_that_fails_on_the_first_batch_is_dropped() -> None:
    model = build_pipeline("logistic").fit(
        ChurnGenerator(seed=1).reference(500).drop(columns="churned"),
        ChurnGenerator(seed=1).reference(500)["churned"],
    )
    predict = Predictor(model)
    predict._direct = lambda columns: np.zeros(1)  # a broken fast path
    events = batch(20)
    assert np.array_equal(
        predict(feature_columns(events)), model.predict_proba(feature_frame(events))[:, 1]
    )
    assert not predict.direct
