"""Validation: the fast dict path gives the documented model's verdict on every input,
and every failure is classified and explained."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.schemas import CustomerEvent
from core.validation import InvalidEvent, parse_event, validate_with_contract
from tests.hostile_inputs import FUZZ_CI, hostile_bytes

VALID: dict[str, Any] = {
    "customer_id": "c-1",
    "event_id": "e-1",
    "event_time": "2026-01-01T00:00:00Z",
    "age": 40,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "one_year",
}

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2000),
    st.sampled_from([0, 17, 18, 120, 121, 1200, 1201, 1e6, 1e9, 1e9 + 1, -0.0, 0.5]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=2e9),
    st.sampled_from(["", "x" * 129, "month-to-month", "one_year", "two_year", "weekly", "35"]),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01", "yesterday", "2026-13-01T00:00:00Z"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(VALID), "extra"]), values, max_size=9))
def test_the_fast_path_and_the_contract_model_agree_on_every_input(
    overrides: dict[str, Any],
) -> None:
    raw = json.dumps({**VALID, **overrides}).encode()
    try:
        model: CustomerEvent | None = CustomerEvent.model_validate_json(raw)
    except ValidationError:
        model = None
    try:
        fields = parse_event(raw, 65536)
    except InvalidEvent:
        assert model is None, f"fast path rejected what the model accepts: {raw!r}"
        return
    assert model is not None, f"fast path accepted what the model rejects: {raw!r}"
    assert CustomerEvent.model_validate(fields) == model


def _verdict(parse: Callable[[bytes, int], Any], raw: bytes) -> tuple[str, Any]:
    try:
        return "valid", parse(raw, 65536)
    except InvalidEvent as exc:
        return exc.error_type, str(exc)


DAMAGES = {
    "none": lambda raw: raw,
    "duplicate_key": lambda raw: raw[:-1] + b', "age": 41}',
    "latin1_in_ignored_field": lambda raw: raw[:-1] + b', "n\xe9": 1}',
    "long_number_in_ignored_field": lambda raw: raw[:-1] + b', "n": ' + b"9" * 4400 + b"}",
    "deep_ignored_field": lambda raw: raw[:-1] + b', "n": ' + b"[" * 300 + b"]" * 300 + b"}",
    "huge_float_in_ignored_field": lambda raw: raw[:-1] + b', "n": 1e400}',
    "escaped_strings": lambda raw: raw.replace(b'"c-1"', b'"c-\\u00e9\\ud83d\\ude00"'),
    "lone_surrogate": lambda raw: raw.replace(b'"c-1"', b'"c-\\ud800"'),
    "truncated": lambda raw: raw[: len(raw) // 2],
}


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(st.sampled_from([*sorted(VALID), "extra"]), values, max_size=9),
    st.sampled_from(sorted(DAMAGES)),
)
def test_msgspec_first_gives_the_contract_validators_verdict_and_values_on_every_input(
    overrides: dict[str, Any], damage: str
) -> None:
    raw = DAMAGES[damage](json.dumps({**VALID, **overrides}, ensure_ascii=False).encode())
    fast, reference = _verdict(parse_event, raw), _verdict(validate_with_contract, raw)
    assert fast == reference, raw
    if fast[0] == "valid":
        assert {k: type(v) for k, v in fast[1].items()} == {
            k: type(v) for k, v in reference[1].items()
        }


@FUZZ_CI
@given(raw=hostile_bytes)
def test_msgspec_first_agrees_with_the_contract_validator_on_hostile_bytes(raw: bytes) -> None:
    assert _verdict(parse_event, raw) == _verdict(validate_with_contract, raw)


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        (b"{", "malformed_json"),
        (b"\xff\xfe{}", "not_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b"null", "not_an_object"),
        (json.dumps({**VALID, "age": "40"}).encode(), "wrong_type"),
        (json.dumps({**VALID, "age": 7}).encode(), "out_of_range"),
        (json.dumps({**VALID, "contract_type": "weekly"}).encode(), "unknown_category"),
        (json.dumps({k: v for k, v in VALID.items() if k != "age"}).encode(), "missing_field"),
        (json.dumps({**VALID, "customer_id": "x" * 500}).encode(), "oversized_value"),
        (json.dumps({**VALID, "monthly_charges": float("nan")}).encode(), "out_of_range"),
        (json.dumps({**VALID, "total_charges": float("inf")}).encode(), "out_of_range"),
    ],
)
def test_each_kind_of_bad_input_is_classified(raw: bytes, error_type: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_event(raw, 65536)
    assert err.value.error_type == error_type


def test_a_message_over_the_size_limit_is_rejected_before_parsing() -> None:
    with pytest.raises(InvalidEvent) as err:
        parse_event(b"{" + b" " * 300 + b"}", 256)
    assert err.value.error_type == "oversized_message"


def test_messages_name_the_field_but_never_echo_its_value() -> None:
    raw = json.dumps({**VALID, "age": 999, "contract_type": "secret-plan"}).encode()
    with pytest.raises(InvalidEvent) as err:
        parse_event(raw, 65536)
    assert "age" in str(err.value)
    assert "contract_type" in str(err.value)
    assert "secret-plan" not in str(err.value)
    assert "999" not in str(err.value)


def test_extra_fields_are_accepted_and_dropped() -> None:
    event = parse_event(json.dumps({**VALID, "email": "a@b.c"}).encode(), 65536)
    assert "email" not in event
    assert event["age"] == 40


def test_each_failing_field_gets_its_own_reason_and_none_echoes_the_value() -> None:
    raw = json.dumps({**VALID, "age": 10, "contract_type": "SECRET-VALUE"}).encode()
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, 65536)
    reasons = {r.field: r.reason for r in caught.value.fields}
    assert set(reasons) == {"age", "contract_type"}
    assert "18" in reasons["age"]
    assert "SECRET-VALUE" not in str(caught.value)
    assert all("SECRET-VALUE" not in r for r in reasons.values())
    assert str(caught.value) == "; ".join(f"{f}: {r}" for f, r in reasons.items())


def test_a_message_level_failure_has_one_reason_for_the_whole_message() -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(b"[1, 2]", 65536)
    assert [r.field for r in caught.value.fields] == ["<message>"]
