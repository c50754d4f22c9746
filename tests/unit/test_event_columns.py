"""The drift watcher's fast decoder counts an event exactly when the contract does."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.event_columns import decode_columns
from core.validation import InvalidEvent, parse_event
from tests.stubs import StubRecord
from tests.unit.test_validation import VALID, values


def record(value: bytes | None, offset: int = 0, ts_ms: int = 5_000) -> StubRecord:
    return StubRecord("events", 1, offset, value, timestamp_ms=ts_ms)


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from([*sorted(VALID), "extra"]), values, max_size=9),
    st.sampled_from(["none", "duplicate_key", "latin1", "truncated"]),
)
def test_an_event_counts_exactly_when_the_contract_validator_accepts_it(
    overrides: dict[str, Any], damage: str
) -> None:
    raw = json.dumps({**VALID, **overrides}, ensure_ascii=False).encode()
    if damage == "duplicate_key":
        raw = raw[:-1] + b', "age": 41}'
    elif damage == "latin1":
        raw = raw.replace(b'"c-1"', b'"c-\xe9"')
    elif damage == "truncated":
        raw = raw[: len(raw) // 2]
    try:
        expected: dict[str, Any] | None = dict(parse_event(raw, 65536))
    except InvalidEvent:
        expected = None
    decoded = decode_columns([record(raw)], 65536)
    assert decoded.valid == (expected is not None), raw
    if expected is not None:
        assert decoded.columns["age"][0] == expected["age"]
        assert decoded.columns["monthly_charges"][0] == expected["monthly_charges"]
        assert decoded.columns["contract_type"][0] == str(expected["contract_type"])


def test_columns_times_and_coordinates_line_up_and_invalid_events_are_counted() -> None:
    good = {**VALID, "event_time": "2026-01-01T00:00:10Z"}
    no_time = {k: v for k, v in VALID.items() if k != "event_time"}
    batch = [
        record(json.dumps(good).encode(), offset=7),
        record(b"not json", offset=8),
        record(json.dumps(no_time).encode(), offset=9, ts_ms=1_700_000_000_000),
        record(None, offset=10),
    ]
    decoded = decode_columns(batch, 65536)
    assert decoded.valid == 2
    assert decoded.invalid == 2
    assert decoded.offsets.tolist() == [7, 9]
    assert decoded.partitions.tolist() == [1, 1]
    assert decoded.event_times.tolist() == [1767225610.0, 1_700_000_000.0]
    assert np.array_equal(decoded.columns["age"], [40.0, 40.0])


def test_every_kind_of_bad_input_is_counted_invalid_never_raised() -> None:
    from producers.generator import ChurnGenerator
    from producers.invalid import ALL_KINDS, InvalidMix
    from producers.messages import event_messages

    mix = InvalidMix(seed=3, rate=1.0, kinds=ALL_KINDS)
    bad = [m.value for m in event_messages(ChurnGenerator(seed=3), 400, invalid=mix)]
    hostile = [b"\xe9\xff", b'{"customer_id": "\xe9\xff"}', b"\x00", b"[" * 5000, b"", None]
    batch = [record(v, offset=i) for i, v in enumerate(bad + hostile)]
    decoded = decode_columns(batch, 65536)
    assert (decoded.valid, decoded.invalid) == (0, len(batch))


def test_an_oversized_message_is_invalid() -> None:
    decoded = decode_columns([record(json.dumps(VALID).encode())], 64)
    assert (decoded.valid, decoded.invalid) == (0, 1)


def test_nesting_deeper_than_the_contract_allows_is_invalid_and_never_raises() -> None:
    """Found by the fuzz test: msgspec accepted nesting pydantic refuses (201-999 levels
    in an ignored field) and raised `RecursionError` beyond, which failed the batch."""
    event = json.dumps(VALID)[:-1]
    nested = {"[": lambda d: "[" * d + "]" * d, "{": lambda d: '{"a":' * d + "1" + "}" * d}
    for depth, kind in ((201, "["), (600, "["), (5000, "["), (600, "{")):
        raw = f'{event}, "extra": {nested[kind](depth)}}}'.encode()
        columns = decode_columns([record(raw)], 1_000_000)
        assert (columns.valid, columns.invalid) == (0, 1), (depth, kind)
    shallow = f'{event}, "extra": {nested["["](150)}}}'.encode()
    assert decode_columns([record(shallow)], 65536).valid == 1


def test_bytes_that_are_not_utf8_in_an_ignored_field_make_the_event_invalid() -> None:
    """Found by the fuzz test: msgspec does not check the bytes of fields it skips, so
    the watcher counted events the scorer dead-letters as `not_utf8`."""
    event = json.dumps(VALID)[:-1].encode()
    for tail in (b', "\xffage": 1}', b', "x": "\xff"}', b', "x": ["a\xc0\xaf"]}'):
        columns = decode_columns([record(event + tail)], 65536)
        assert (columns.valid, columns.invalid) == (0, 1), tail
    accented = decode_columns([record(event + ', "x": "café"}'.encode())], 65536)
    assert accented.valid == 1


def test_a_number_too_long_for_the_contract_in_an_ignored_field_makes_the_event_invalid() -> None:
    """Found by the long fuzz run: msgspec accepted integers of more than 4,300 digits
    in an ignored field, which the scorer dead-letters as `malformed_json`."""
    event = json.dumps(VALID)[:-1]
    for number in ("9" * 4301, "-" + "9" * 5000, "1" + "0" * 4400 + ".5"):
        columns = decode_columns([record(f'{event}, "x": {number}}}'.encode())], 65536)
        assert (columns.valid, columns.invalid) == (0, 1), len(number)
    long_but_fine = f'{event}, "x": "{"y" * 5000}"}}'.encode()
    assert decode_columns([record(long_but_fine)], 65536).valid == 1
