"""Hostile inputs for the fuzz tests and `bench/fuzz_bench.py`: one set of generators.

Random bytes alone almost never get past a JSON parser, so most generated inputs are
near misses: a valid event with one hostile piece spliced in (deep nesting, a huge or
non-finite number, a duplicate key, bytes that are not UTF-8, a megabyte string), or a
JSON document built from those pieces. Every generator yields the raw bytes a Kafka
record value or an HTTP body would carry.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

VALID_EVENT: Final[dict[str, Any]] = {
    "customer_id": "c-1",
    "event_id": "e-1",
    "event_time": "2026-01-01T00:00:00Z",
    "age": 40,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "one_year",
}
FIELDS: Final = sorted(VALID_EVENT)

_LONG_RUN = os.environ.get("FUZZ_EXAMPLES")
FUZZ_CI = settings(
    max_examples=int(_LONG_RUN) if _LONG_RUN else 300,
    deadline=None,
    derandomize=not _LONG_RUN,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""What CI runs: a few seconds per test, the same examples every run. `FUZZ_EXAMPLES=N`
in the environment runs N random examples per test instead (new inputs every run)."""

_NUMBER_TOKENS = [
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1e-999",
    "-0",
    "-0.0",
    "0e0",
    "9" * 400,
    "9" * 4301,
    "-" + "9" * 30,
    "1." + "0" * 500 + "1",
    "18.0",
    "4e1",
    "0x10",
    "01",
    "1_000",
    "+1",
    ".5",
]
_STRING_TOKENS = [
    '""',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d\\ude00"',
    '"\\x41"',
    '"\\"',
    '"month-to-month\\u0000"',
    '"ONE_YEAR"',
    '"2026-01-01T24:00:00Z"',
    '"2026-02-30T00:00:00Z"',
    '"9999-12-31T23:59:59.999999999Z"',
    '"0000-01-01T00:00:00Z"',
    '"2026-01-01T00:00:00+25:00"',
]
_RAW_BYTES = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\xf4\x90\x80\x80"]


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


hostile_tokens: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_NUMBER_TOKENS),
    st.sampled_from(_STRING_TOKENS),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from(["array", "object"])),
    st.builds(lambda n, c: json.dumps(c * n), st.integers(0, 1_200_000), st.sampled_from("xé😀")),
    st.sampled_from(["null", "true", "false", "[]", "{}", "[1,2]"]),
)
"""A JSON value as text that a parser or validator may choke on."""

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(FIELDS),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10) | st.sampled_from(FIELDS), children, max_size=6)
    ),
    max_leaves=30,
)
"""Arbitrary JSON documents (with NaN and infinities, which `json.dumps` writes)."""


def _event_text(event: dict[str, Any]) -> str:
    return json.dumps(event)


@st.composite
def spliced_events(draw: st.DrawFn) -> bytes:
    """A valid event with hostile pieces: a field's value replaced, an extra field, a
    duplicate key, raw bytes inserted somewhere, or the text cut short."""
    event = dict(VALID_EVENT)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        if draw(st.booleans()):
            del event[name]
    text = _event_text(event)[:-1]
    pieces = draw(
        st.lists(
            st.tuples(st.sampled_from([*FIELDS, "extra", ""]), hostile_tokens),
            min_size=1,
            max_size=3,
        )
    )
    for key, token in pieces:
        text += f", {json.dumps(key)}: {token}"
    raw = (text + "}").encode()
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(_RAW_BYTES)) + raw[at:]
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


hostile_bytes: st.SearchStrategy[bytes] = st.one_of(
    spliced_events(),
    st.binary(max_size=512),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(
        lambda v: json.dumps({**VALID_EVENT, **v}).encode(),
        st.dictionaries(st.sampled_from([*FIELDS, "extra"]), json_values, max_size=4),
    ),
    hostile_tokens.map(str.encode),
)
"""Everything at once: what the decoder and the API must survive."""
