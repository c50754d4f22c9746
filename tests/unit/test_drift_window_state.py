"""Window state: bounded, exactly mergeable, and restorable from bytes; the profile too."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.drift.config import DriftConfig
from core.drift.evaluate import evaluate
from core.drift.profile import ProfileError, ReferenceProfile
from core.drift.window_state import (
    MAX_UNSEEN_CATEGORIES,
    OTHER_UNSEEN,
    WindowState,
    WindowStateError,
)

NUMERIC = ["age", "tenure_months", "monthly_charges", "total_charges"]
CONTRACTS = np.array(["month-to-month", "one_year", "two_year"])


def frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    tenure = rng.integers(0, 72, n)
    monthly = rng.gamma(4.0, 18.0, n)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": monthly * tenure,
            "contract_type": CONTRACTS[rng.integers(0, 3, n)],
        }
    )


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.from_frame(
        frame(np.random.default_rng(0), 20_000), NUMERIC, ["contract_type"]
    )


def test_profile_round_trips_through_json_with_the_same_digest(profile: ReferenceProfile) -> None:
    text = json.dumps(profile.to_dict(), allow_nan=False)
    again = ReferenceProfile.from_dict(json.loads(text))
    assert again.digest() == profile.digest()
    assert again.to_dict() == profile.to_dict()


def test_profile_digest_changes_when_the_training_data_changes(profile: ReferenceProfile) -> None:
    other = ReferenceProfile.from_frame(
        frame(np.random.default_rng(1), 20_000), NUMERIC, ["contract_type"]
    )
    assert other.digest() != profile.digest()


def test_profile_psi_edges_are_reference_deciles_and_nest_in_the_fine_bins(
    profile: ReferenceProfile,
) -> None:
    monthly = profile.numeric["monthly_charges"]
    assert monthly.psi_edges.size == 9
    assert np.isin(monthly.psi_edges, monthly.edges).all()
    coarse = np.bincount(monthly.psi_map(), weights=monthly.counts)
    assert coarse / coarse.sum() == pytest.approx(np.full(10, 0.1), abs=0.002)


def test_profile_refuses_missing_columns_and_empty_features() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [np.nan, np.nan]})
    with pytest.raises(ProfileError, match="lacks columns"):
        ReferenceProfile.from_frame(df, ["nope"], [])
    with pytest.raises(ProfileError, match="no finite values"):
        ReferenceProfile.from_frame(df, ["y"], [])


def test_profile_from_a_malformed_dict_is_a_profile_error() -> None:
    with pytest.raises(ProfileError):
        ReferenceProfile.from_dict({"format": 1, "numeric": {}})


def test_merged_partial_states_evaluate_exactly_like_one_state(profile: ReferenceProfile) -> None:
    rng = np.random.default_rng(3)
    batch = frame(rng, 9_000)
    whole = WindowState.empty(profile).update(batch)
    parts = [WindowState.empty(profile).update(batch.iloc[i::3]) for i in range(3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    a = evaluate(profile, whole, DriftConfig())
    b = evaluate(profile, merged, DriftConfig())
    assert merged.events == whole.events
    for fa, fb in zip(a.features, b.features, strict=True):
        assert fa.drift == fb.drift
        for ta, tb in zip(fa.tests, fb.tests, strict=True):
            assert tb.statistic == pytest.approx(ta.statistic, rel=1e-9, abs=1e-12)
            assert tb.p_value == pytest.approx(ta.p_value, rel=1e-9)
    for name in NUMERIC:  # counts add up exactly; float sums to rounding
        assert (merged.numeric[name].counts == whole.numeric[name].counts).all()
    for name in NUMERIC:
        assert merged.numeric[name].mean == pytest.approx(batch[name].mean(), rel=1e-12)
        assert merged.numeric[name].std == pytest.approx(batch[name].std(), rel=1e-9)


def test_a_million_event_window_over_five_features_holds_in_a_few_megabytes(
    profile: ReferenceProfile,
) -> None:
    rng = np.random.default_rng(4)
    state = WindowState.empty(profile)
    for _ in range(4):
        state.update(frame(rng, 250_000))
    assert state.events == 1_000_000
    arrays = sum(a.counts.nbytes + a.sums.nbytes for a in state.numeric.values())
    assert arrays < 100_000
    assert len(state.to_bytes()) < 200_000


def test_state_round_trips_through_bytes_and_json(profile: ReferenceProfile) -> None:
    state = WindowState.empty(profile).update(frame(np.random.default_rng(5), 2_000))
    again = WindowState.from_bytes(state.to_bytes(), profile)
    assert again.to_dict() == state.to_dict()
    via_json = WindowState.from_dict(json.loads(json.dumps(state.to_dict())), profile)
    assert via_json.to_dict() == state.to_dict()


def test_state_from_another_profile_is_refused(profile: ReferenceProfile) -> None:
    other = ReferenceProfile.from_frame(
        frame(np.random.default_rng(9), 1_000), NUMERIC, ["contract_type"]
    )
    state = WindowState.empty(other)
    with pytest.raises(WindowStateError, match="different reference profile"):
        WindowState.from_bytes(state.to_bytes(), profile)
    with pytest.raises(WindowStateError, match="different profiles"):
        WindowState.empty(profile).merge(state)


def test_garbage_bytes_are_a_window_state_error(profile: ReferenceProfile) -> None:
    with pytest.raises(WindowStateError, match="unreadable"):
        WindowState.from_bytes(b"not a state", profile)


def test_missing_values_and_unseen_categories_are_counted_not_fatal(
    profile: ReferenceProfile,
) -> None:
    batch = frame(np.random.default_rng(6), 10)
    batch["age"] = batch["age"].astype(float)
    batch.loc[0, "age"] = np.nan
    batch.loc[1, "contract_type"] = None
    batch.loc[2, "contract_type"] = "lifetime"
    state = WindowState.empty(profile).update(batch)
    assert state.numeric["age"].missing == 1
    assert state.numeric["age"].n == 9
    assert state.categorical["contract_type"].missing == 1
    assert state.categorical["contract_type"].counts["lifetime"] == 1


def test_a_batch_without_a_feature_column_is_refused(profile: ReferenceProfile) -> None:
    with pytest.raises(WindowStateError, match="lacks feature columns"):
        WindowState.empty(profile).update({"age": np.array([30])})


def test_unseen_categories_are_capped_so_garbage_labels_cannot_grow_the_state(
    profile: ReferenceProfile,
) -> None:
    batch = frame(np.random.default_rng(7), 1_000)
    batch["contract_type"] = [f"junk-{i}" for i in range(1_000)]
    state = WindowState.empty(profile).update(batch)
    counts = state.categorical["contract_type"].counts
    assert len(counts) == MAX_UNSEEN_CATEGORIES + 1
    assert counts[OTHER_UNSEEN] == 1_000 - MAX_UNSEEN_CATEGORIES
    restored = WindowState.from_bytes(state.to_bytes(), profile)
    restored.update({**{c: batch[c][:1] for c in batch}, "contract_type": ["one_year"]})
    assert restored.categorical["contract_type"].counts["one_year"] == 1
