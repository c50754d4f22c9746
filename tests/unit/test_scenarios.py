"""Each drift scenario changes what it says, from where it says, and nothing else.

Every test compares a drifted generator with a stable one of the same seed: the process
draws all randomness before scenarios apply, so anything a scenario does not name must be
identical row for row, and what it names is checked on its distribution.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from core.features import CONTRACT_TYPES, NUMERIC_FEATURES
from core.schemas import CustomerEvent
from producers.generator import ChurnGenerator, CustomerBatch
from producers.invalid import encode
from producers.relation import REFERENCE_RELATION
from producers.scenarios import (
    PRESETS,
    ConceptDrift,
    ContractMix,
    FeatureShift,
    NewCategory,
    Scenario,
    ScenarioError,
    describe,
    parse_scenario,
    parse_scenarios,
)

N = 20_000
START = 8_000
SEED = 21


def _pair(*scenarios: Scenario) -> tuple[CustomerBatch, CustomerBatch]:
    stable = ChurnGenerator(SEED).batch(N)
    drifted = ChurnGenerator(SEED, scenarios).batch(N)
    return stable, drifted


def _same(a: CustomerBatch, b: CustomerBatch, column: str, rows: slice = slice(None)) -> bool:
    return bool(np.array_equal(getattr(a, column)[rows], getattr(b, column)[rows]))


BEFORE, AFTER = slice(0, START), slice(START, None)


def test_a_feature_shift_moves_only_that_feature_and_only_from_its_start() -> None:
    shift = FeatureShift(feature="monthly_charges", scale=1.3, shift=5.0, start_event=START)
    stable, drifted = _pair(shift)
    for column in ("age", "tenure_months", "total_charges", "contract_type"):
        assert _same(stable, drifted, column)
    assert _same(stable, drifted, "monthly_charges", BEFORE)
    expected = (stable.monthly_charges[AFTER] * 1.3 + 5.0).round(2)
    np.testing.assert_allclose(drifted.monthly_charges[AFTER], expected)
    assert _same(stable, drifted, "churned", BEFORE)


def test_a_feature_shift_keeps_the_churn_relation_so_labels_follow_the_new_feature() -> None:
    stable, drifted = _pair(FeatureShift(feature="age", shift=20.0))
    effect = np.array([REFERENCE_RELATION.contract[c] for c in drifted.contract_type])
    logit = REFERENCE_RELATION.logit(
        effect, drifted.tenure_months, drifted.monthly_charges, drifted.age
    )
    np.testing.assert_allclose(drifted.churn_probability, 1 / (1 + np.exp(-logit)))
    assert drifted.churned.mean() < stable.churned.mean()  # older customers churn less


def test_shifted_integer_features_stay_integers_within_the_contract_bounds() -> None:
    _, drifted = _pair(FeatureShift(feature="tenure_months", scale=0.5, shift=-30.0))
    assert drifted.tenure_months.dtype == np.int64
    assert drifted.tenure_months.min() == 0
    _, older = _pair(FeatureShift(feature="age", shift=100.0))
    assert older.age.max() == 120


def test_a_contract_mix_changes_the_proportions_but_not_who_each_contract_is() -> None:
    weights = {"month-to-month": 0.8, "one_year": 0.12, "two_year": 0.08}
    stable, drifted = _pair(ContractMix(weights=weights, start_event=START))
    assert _same(stable, drifted, "contract_type", BEFORE)
    values, counts = np.unique(drifted.contract_type[AFTER], return_counts=True)
    share = dict(zip(values, counts / counts.sum(), strict=True))
    for contract, expected in weights.items():
        assert share[contract] == pytest.approx(expected, abs=0.015)
    for column in ("age", "monthly_charges"):
        assert _same(stable, drifted, column)
    unchanged = stable.contract_type == drifted.contract_type
    assert np.array_equal(stable.tenure_months[unchanged], drifted.tenure_months[unchanged])
    for contract in CONTRACT_TYPES:  # tenure given contract: same distribution
        a = stable.tenure_months[stable.contract_type == contract]
        b = drifted.tenure_months[AFTER][drifted.contract_type[AFTER] == contract]
        assert ks_2samp(a, b).pvalue > 0.001


def test_a_new_category_appears_in_its_fraction_of_events_and_nowhere_else() -> None:
    stable, drifted = _pair(NewCategory(value="quarterly", fraction=0.25, start_event=START))
    new = drifted.contract_type == "quarterly"
    assert not new[BEFORE].any()
    assert new[AFTER].mean() == pytest.approx(0.25, abs=0.015)
    for column in ("age", "monthly_charges"):
        assert _same(stable, drifted, column)
    for column in ("contract_type", "tenure_months", "total_charges", "churned"):
        assert np.array_equal(getattr(stable, column)[~new], getattr(drifted, column)[~new])


def test_new_category_events_carry_the_unseen_value_on_the_stream() -> None:
    gen = ChurnGenerator(SEED, [NewCategory(value="weekly", fraction=1.0)])
    event, _ = next(gen.events(1))
    assert event["contract_type"] == "weekly"
    assert set(gen.reference(100)["contract_type"]) == {"weekly"}


def test_concept_drift_changes_labels_and_leaves_every_feature_alone() -> None:
    stable, drifted = _pair(ConceptDrift(start_event=START))
    for column in (*NUMERIC_FEATURES, "contract_type"):
        assert _same(stable, drifted, column)
    assert _same(stable, drifted, "churned", BEFORE)
    assert not _same(stable, drifted, "churned", AFTER)
    by_contract = {
        c: drifted.churned[AFTER][drifted.contract_type[AFTER] == c].mean() for c in CONTRACT_TYPES
    }
    assert by_contract["two_year"] > by_contract["month-to-month"]  # the relation reversed


def test_half_strength_concept_drift_lands_between_the_two_relations() -> None:
    _, full = _pair(ConceptDrift())
    _, half = _pair(ConceptDrift(strength=0.5))
    stable, _ = _pair()
    corr_full = np.corrcoef(stable.churn_probability, full.churn_probability)[0, 1]
    corr_half = np.corrcoef(stable.churn_probability, half.churn_probability)[0, 1]
    assert corr_full < corr_half < 1.0


def test_scenarios_combine_each_doing_its_own_part() -> None:
    shift = FeatureShift(feature="monthly_charges", scale=1.3)
    stable, combined = _pair(shift, ConceptDrift())
    _, shifted_only = _pair(shift)
    assert _same(shifted_only, combined, "monthly_charges")
    assert _same(stable, combined, "age")
    assert not _same(shifted_only, combined, "churned")


def test_a_start_in_seconds_uses_the_event_clock() -> None:
    gen = ChurnGenerator(SEED, [ConceptDrift(start_s=2.0)], events_per_second=500)
    stable = ChurnGenerator(SEED).batch(2000)
    drifted = gen.batch(2000)
    assert np.array_equal(stable.churned[:1000], drifted.churned[:1000])
    assert not np.array_equal(stable.churned[1000:], drifted.churned[1000:])
    assert ConceptDrift(start_s=2.0, start_event=1500).first_index(500) == 1500


@settings(max_examples=25, deadline=None)
@given(
    feature=st.sampled_from(NUMERIC_FEATURES),
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-1e5, 1e5),
    seed=st.integers(0, 2**32),
)
def test_any_feature_shift_keeps_events_within_the_contract(
    feature: str, scale: float, shift: float, seed: int
) -> None:
    gen = ChurnGenerator(seed, [FeatureShift(feature=feature, scale=scale, shift=shift)])
    for event, _ in gen.events(200):
        CustomerEvent.model_validate_json(encode(event))


# --------------------------------------------------------------------------- parsing


def test_every_preset_parses_with_and_without_a_start() -> None:
    for name in PRESETS:
        assert parse_scenario(name) == [PRESETS[name]]
        (at_event,) = parse_scenario(f"{name}@5000")
        (at_time,) = parse_scenario(f"{name}@30s")
        assert at_event.start_event == 5000
        assert at_time.start_s == 30.0


def test_comma_separated_and_repeated_scenarios_all_apply() -> None:
    parsed = parse_scenarios(["charges-up@100,concept@200", "new-category"])
    assert [type(s) for s in parsed] == [FeatureShift, ConceptDrift, NewCategory]


def test_a_toml_scenario_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "drift.toml"
    path.write_text(
        '[[scenario]]\nkind = "shift"\nfeature = "age"\nshift = 10.0\nstart_event = 100\n\n'
        '[[scenario]]\nkind = "contract-mix"\nstart_s = 60.0\n'
        '[scenario.weights]\n"month-to-month" = 0.9\none_year = 0.1\n'
    )
    shift, mix = parse_scenario(str(path))
    assert shift == FeatureShift(feature="age", shift=10.0, start_event=100)
    assert isinstance(mix, ContractMix)
    assert mix.probabilities() == pytest.approx((0.9, 0.1, 0.0))


def test_a_json_scenario_file_is_read_and_described_back(tmp_path: Path) -> None:
    path = tmp_path / "drift.json"
    spec = [{"kind": "concept", "strength": 0.5, "start_event": 10}]
    path.write_text(json.dumps({"scenario": spec}))
    parsed = parse_scenario(str(path))
    assert parsed == [ConceptDrift(strength=0.5, start_event=10)]
    assert describe(parsed) == [{**spec[0], "start_s": None}]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-preset", "unknown scenario"),
        ("concept@1.5", "whole number"),
    ],
)
def test_unknown_presets_and_bad_starts_are_named_errors(spec: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(spec)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "teleport"}, "kind must be one of"),
        ({"kind": "shift", "feature": "age", "speed": 2}, "unknown parameters"),
        ({"kind": "shift", "feature": "contract_type"}, "numeric features"),
        ({"kind": "shift", "feature": "age", "scale": 0}, "scale"),
        ({"kind": "contract-mix", "weights": {"weekly": 1.0}}, "new-category"),
        ({"kind": "new-category", "value": "one_year"}, "must differ"),
        ({"kind": "concept", "strength": 2}, "strength"),
        ({"kind": "concept", "start_event": -1}, "start_event"),
    ],
)
def test_bad_scenario_tables_are_rejected_with_the_reason(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(str(path))


def test_an_unparsable_scenario_file_is_a_named_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[scenario]\n")
    with pytest.raises(ScenarioError, match="does not parse"):
        parse_scenario(str(path))
