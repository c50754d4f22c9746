"""The churn Pipeline: what it contains, how it is evaluated, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from core.drift.profile import ReferenceProfile
from core.features import FEATURES, NUMERIC_FEATURES
from core.model_kinds import DEFAULT_KIND, MODEL_KINDS
from core.registry import ModelRegistry
from core.training import TrainingDataError, build_pipeline, train_and_evaluate
from producers.generator import ChurnGenerator


@pytest.fixture(autouse=True)
def one_openmp_thread() -> Iterator[None]:
    """HistGradientBoosting's OpenMP threads spin-wait: on a busy 2-core CI runner two of
    them made one fit 14x slower (5.3 s against 0.38 s). One thread keeps the suite quick."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return ChurnGenerator(seed=11).reference(3000)


@pytest.mark.parametrize(
    ("kind", "estimator"),
    [
        ("logistic", LogisticRegression),
        ("forest", RandomForestClassifier),
        ("hgb", HistGradientBoostingClassifier),
    ],
)
def test_every_kind_encodes_features_inside_the_pipeline(kind, estimator):
    pipeline = build_pipeline(kind)
    features, model = (step for _, step in pipeline.steps)
    assert isinstance(features, ColumnTransformer)
    [(_, scaler, numeric), (_, encoder, categorical)] = features.transformers
    assert isinstance(scaler, StandardScaler)
    assert numeric == list(NUMERIC_FEATURES)
    assert isinstance(encoder, OneHotEncoder)
    assert encoder.handle_unknown == "ignore"
    assert categorical == ["contract_type"]
    assert isinstance(model, estimator)


def test_the_forest_is_the_100_tree_random_forest_the_benchmark_uses():
    assert build_pipeline("forest").named_steps["model"].n_estimators == 100


def test_the_default_kind_is_logistic_regression():
    assert DEFAULT_KIND == "logistic"
    assert set(MODEL_KINDS) == {"logistic", "forest", "hgb"}


def test_an_unknown_kind_is_a_named_error():
    with pytest.raises(TrainingDataError, match="unknown model kind 'svm'"):
        build_pipeline("svm")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_each_kind_beats_chance_clearly_on_the_holdout(frame, kind):
    result = train_and_evaluate(frame, kind, seed=1)
    assert set(result.metrics) == {"accuracy", "f1", "roc_auc", "log_loss"}
    assert result.metrics["roc_auc"] > 0.75
    assert result.metrics["accuracy"] > 0.7
    assert 0 < result.metrics["f1"] < 1


def test_training_is_deterministic_for_a_seed(frame):
    first = train_and_evaluate(frame, "forest", seed=5)
    second = train_and_evaluate(frame, "forest", seed=5)
    assert first.metrics == second.metrics
    assert first.reference_profile == second.reference_profile


def test_the_summary_profile_and_schema_describe_the_training_split(frame):
    result = train_and_evaluate(frame, "logistic", seed=2, test_size=0.2)
    summary = result.summary
    assert (summary["rows"], summary["train_rows"], summary["test_rows"]) == (3000, 2400, 600)
    assert summary["model_kind"] == "logistic"
    assert sum(summary["categories"]["contract_type"].values()) == 2400
    profile = ReferenceProfile.from_dict(result.reference_profile)
    assert profile.rows == 2400
    assert profile.features == FEATURES
    schema = {f["name"]: f for f in result.feature_schema["features"]}
    assert list(schema) == list(FEATURES)
    assert schema["contract_type"]["categories"] == ["month-to-month", "one_year", "two_year"]


def test_an_unseen_contract_type_is_scored_not_rejected(frame):
    model = train_and_evaluate(frame, "logistic", seed=0).model
    row = frame[list(FEATURES)].head(1).assign(contract_type="weekly")
    probability = model.predict_proba(row)[0, 1]
    assert 0.0 <= probability <= 1.0


def test_the_registered_pipeline_scores_exactly_like_the_trained_one(frame, tmp_path):
    result = train_and_evaluate(frame, "logistic", seed=0)
    registry = ModelRegistry(tmp_path)
    registry.register(
        "churn",
        result.model,
        result.metrics,
        {},
        reference_profile=result.reference_profile,
        feature_schema=result.feature_schema,
        training_summary=result.summary,
    )
    registry.promote("churn", 1)
    loaded, version = registry.production("churn")
    x = frame[list(FEATURES)].head(200)
    np.testing.assert_array_equal(loaded.predict_proba(x), result.model.predict_proba(x))
    assert version.profile_digest == ReferenceProfile.from_dict(result.reference_profile).digest()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns=["tenure_months"]), "lacks columns"),
        (lambda df: df.assign(churned=0), "each class"),
        (lambda df: df.head(20), "too few"),
        (lambda df: df.assign(age=np.where(df.index == 3, np.nan, df["age"])), "missing"),
    ],
)
def test_unusable_training_data_is_refused_with_a_named_error(frame, change, message):
    with pytest.raises(TrainingDataError, match=message):
        train_and_evaluate(change(frame), "logistic", seed=0)


def test_a_holdout_share_outside_zero_and_one_is_refused(frame):
    with pytest.raises(TrainingDataError, match="test_size"):
        train_and_evaluate(frame, "logistic", seed=0, test_size=1.5)
