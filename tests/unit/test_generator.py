"""The churn process: deterministic, contract-valid, realistic, and learnable."""

from __future__ import annotations

import doctest
import itertools
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.features import CONTRACT_TYPES, FEATURES, TARGET
from core.schemas import CustomerEvent
from core.training import build_pipeline
from producers import generator, invalid
from producers.generator import BLOCK, CONTRACT_MIX, EPOCH, ChurnGenerator
from producers.scenarios import ConceptDrift

STABLE_AUC_FLOOR = 0.80
"""What docs/producers.md promises for a logistic model on fresh stable data."""


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return ChurnGenerator(seed=11).reference(40_000)


@pytest.fixture(scope="module")
def model(reference: pd.DataFrame) -> object:
    pipeline = build_pipeline("logistic")
    pipeline.fit(reference[list(FEATURES)], reference[TARGET])
    return pipeline


def _auc(model: object, frame: pd.DataFrame) -> float:
    probability = model.predict_proba(frame[list(FEATURES)])[:, 1]  # type: ignore[attr-defined]
    return float(roc_auc_score(frame[TARGET], probability))


def _events_frame(gen: ChurnGenerator, n: int, start: int = 0) -> pd.DataFrame:
    rows = [{**event, TARGET: churned} for event, churned in gen.events(n, start)]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_gives_the_same_reference_data_and_events() -> None:
    a, b = ChurnGenerator(seed=3), ChurnGenerator(seed=3)
    pd.testing.assert_frame_equal(a.reference(2000), b.reference(2000))
    assert list(a.events(2000)) == list(b.events(2000))


def test_different_seeds_give_different_customers() -> None:
    a = ChurnGenerator(seed=3).reference(500)
    b = ChurnGenerator(seed=4).reference(500)
    assert not a.equals(b)


def test_an_event_is_the_same_however_the_stream_is_chunked() -> None:
    gen = ChurnGenerator(seed=5)
    whole = list(gen.events(BLOCK + 300))
    start = BLOCK - 100
    assert list(gen.events(400, start_index=start)) == whole[start : start + 400]
    assert list(itertools.islice(gen.events(None, start), 400)) == whole[start : start + 400]


def test_an_empty_batch_has_every_column_and_no_rows() -> None:
    batch = ChurnGenerator(seed=5, scenarios=[ConceptDrift()]).batch(0, start_index=10)
    assert len(batch) == 0
    assert list(batch.frame().columns) == [*FEATURES, TARGET]
    assert list(ChurnGenerator(seed=5).events(0)) == []


def test_reference_data_are_other_customers_than_the_event_stream() -> None:
    gen = ChurnGenerator(seed=5)
    stream = gen.batch(1000).frame()
    assert not gen.reference(1000).equals(stream)


# --------------------------------------------------------------------------- contract


def test_every_event_satisfies_the_customer_event_contract() -> None:
    for event, churned in ChurnGenerator(seed=1).events(5000):
        parsed = CustomerEvent.model_validate_json(json.dumps(event))
        assert parsed.event_id == event["event_id"]
        assert churned in (0, 1)


def test_event_and_customer_ids_are_unique() -> None:
    events = [e for e, _ in ChurnGenerator(seed=1).events(20_000)]
    assert len({e["event_id"] for e in events}) == len(events)
    assert len({e["customer_id"] for e in events}) == len(events)


def test_event_times_follow_the_event_clock_from_the_start_time() -> None:
    start = datetime.fromisoformat("2026-03-01T12:00:00+00:00")
    gen = ChurnGenerator(seed=1, start_time=start, events_per_second=200)
    times = [datetime.fromisoformat(e["event_time"]) for e, _ in gen.events(1001)]
    assert times[0] == start
    assert times[-1] == start + timedelta(seconds=5)
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert gen.event_time(1000) == times[-1]


def test_about_half_the_events_carry_pii_like_extra_fields_some_of_them_nested() -> None:
    events = [e for e, _ in ChurnGenerator(seed=2).events(10_000)]
    with_extras = [e for e in events if "email" in e]
    nested = [e for e in with_extras if "phone" in e.get("profile", {})]
    assert 0.45 < len(with_extras) / len(events) < 0.55
    assert 0.07 < len(nested) / len(with_extras) < 0.13
    assert all("@" in e["email"] and e["name"] for e in with_extras)


def test_reference_frame_has_the_feature_columns_and_the_label() -> None:
    frame = ChurnGenerator(seed=1).reference(1000)
    assert list(frame.columns) == [*FEATURES, TARGET]
    assert set(frame["contract_type"]) <= set(CONTRACT_TYPES)
    assert set(frame[TARGET]) == {0, 1}
    assert frame["age"].dtype == np.int64
    assert frame["tenure_months"].dtype == np.int64


def test_start_time_must_carry_a_timezone() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ChurnGenerator(seed=1, start_time=datetime(2026, 1, 1))


# --------------------------------------------------------------------------- realism


def test_contract_mix_matches_the_documented_proportions(reference: pd.DataFrame) -> None:
    share = reference["contract_type"].value_counts(normalize=True)
    for contract, expected in zip(CONTRACT_TYPES, CONTRACT_MIX, strict=True):
        assert share[contract] == pytest.approx(expected, abs=0.01)
    assert EPOCH.tzinfo is not None


def test_longer_contracts_have_longer_tenure(reference: pd.DataFrame) -> None:
    mean = reference.groupby("contract_type")["tenure_months"].mean()
    assert mean["month-to-month"] < mean["one_year"] < mean["two_year"]
    assert reference["tenure_months"].between(0, 72).all()
    assert reference["age"].between(18, 78).all()


def test_total_charges_follow_tenure_times_monthly_charges(reference: pd.DataFrame) -> None:
    tenured = reference[reference["tenure_months"] > 0]
    ratio = tenured["total_charges"] / (tenured["tenure_months"] * tenured["monthly_charges"])
    assert ratio.median() == pytest.approx(1.0, abs=0.01)
    assert ratio.between(0.7, 1.3).all()
    assert (reference.loc[reference["tenure_months"] == 0, "total_charges"] == 0).all()


def test_month_to_month_and_short_tenure_churn_more(reference: pd.DataFrame) -> None:
    by_contract = reference.groupby("contract_type")[TARGET].mean()
    assert by_contract["month-to-month"] > by_contract["one_year"] > by_contract["two_year"]
    short = reference.loc[reference["tenure_months"] < 12, TARGET].mean()
    long = reference.loc[reference["tenure_months"] > 48, TARGET].mean()
    assert short > 2 * long
    assert 0.2 < reference[TARGET].mean() < 0.3


# --------------------------------------------------------------------------- learnability


def test_a_model_trained_on_reference_data_keeps_its_auc_on_a_stable_stream(
    model: object,
) -> None:
    stream = _events_frame(ChurnGenerator(seed=12), 20_000)
    assert _auc(model, stream) > STABLE_AUC_FLOOR


def test_a_model_trained_on_reference_data_loses_its_auc_under_concept_drift(
    model: object,
) -> None:
    gen = ChurnGenerator(seed=12, scenarios=[ConceptDrift(start_event=10_000)])
    stream = _events_frame(gen, 20_000)
    before, after = stream.iloc[:10_000], stream.iloc[10_000:]
    assert _auc(model, before) > STABLE_AUC_FLOOR
    assert _auc(model, after) < 0.35


@pytest.mark.parametrize("module", [generator, invalid], ids=lambda m: m.__name__)
def test_the_seeded_docstring_examples_hold(module: object) -> None:
    """`producers` is outside pytest's doctest paths, so its examples are run here."""
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
