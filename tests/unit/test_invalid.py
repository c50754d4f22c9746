"""Invalid events: every kind is one the scorer dead-letters, under the error it names."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

from core.schemas import CustomerEvent
from core.validation import InvalidEvent as ScorerRejection
from core.validation import parse_event
from producers.generator import BLOCK, ChurnGenerator
from producers.invalid import (
    ALL_KINDS,
    DEFAULT_MAX_EVENT_BYTES,
    SCORER_ERROR_TYPE,
    InvalidKind,
    InvalidMix,
    make_invalid,
)
from producers.messages import event_messages


@pytest.fixture(scope="module")
def event() -> dict[str, Any]:
    event, _ = next(ChurnGenerator(seed=4).events(1))
    return event


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_variant_of_every_kind_is_dead_lettered_with_its_error_type(
    kind: InvalidKind, event: dict[str, Any]
) -> None:
    details = set()
    for seed in range(60):  # enough draws to hit every variant of the kind
        bad = make_invalid(kind, event, np.random.default_rng(seed))
        details.add(bad.detail)
        with pytest.raises(ScorerRejection) as rejected:
            parse_event(bad.value, DEFAULT_MAX_EVENT_BYTES)
        assert rejected.value.error_type == SCORER_ERROR_TYPE[kind], bad.detail
    assert details


def test_the_event_an_invalid_one_is_made_from_is_itself_valid(event: dict[str, Any]) -> None:
    assert CustomerEvent.model_validate_json(json.dumps(event)).customer_id == event["customer_id"]


def test_non_utf8_values_are_bytes_that_do_not_decode(event: dict[str, Any]) -> None:
    bad = make_invalid(InvalidKind.NON_UTF8, event, np.random.default_rng(0))
    with pytest.raises(UnicodeDecodeError):
        bad.value.decode("utf-8")


def test_oversized_events_exceed_the_configured_limit(event: dict[str, Any]) -> None:
    bad = make_invalid(InvalidKind.OVERSIZED, event, np.random.default_rng(0), max_event_bytes=1000)
    assert 1000 < len(bad.value) < 2000


def test_the_mix_replaces_about_the_asked_share_with_every_kind() -> None:
    mix = InvalidMix(seed=9, rate=0.1)
    kinds = [mix.kind_at(i) for i in range(20_000)]
    invalid = [k for k in kinds if k is not None]
    assert len(invalid) / len(kinds) == pytest.approx(0.1, abs=0.01)
    assert set(invalid) == set(ALL_KINDS)
    assert min(Counter(invalid).values()) > 150


def test_the_mix_is_decided_by_seed_and_index_alone() -> None:
    a, b = InvalidMix(seed=9, rate=0.2), InvalidMix(seed=9, rate=0.2)
    backwards = [b.kind_at(i) for i in reversed(range(2 * BLOCK))][::-1]
    assert [a.kind_at(i) for i in range(2 * BLOCK)] == backwards
    assert [InvalidMix(seed=10, rate=0.2).kind_at(i) for i in range(100)] != backwards[:100]


def test_a_zero_rate_keeps_every_event_valid() -> None:
    mix = InvalidMix(seed=9, rate=0.0)
    assert all(mix.kind_at(i) is None for i in range(1000))


def test_a_mix_of_only_some_kinds_uses_only_those() -> None:
    mix = InvalidMix(seed=9, rate=1.0, kinds=[InvalidKind.NON_UTF8])
    assert {mix.kind_at(i) for i in range(100)} == {InvalidKind.NON_UTF8}


def test_invalid_messages_keep_the_customer_key_and_carry_no_label() -> None:
    gen = ChurnGenerator(seed=4)
    mix = InvalidMix(seed=4, rate=0.3)
    messages = list(event_messages(gen, 2000, invalid=mix))
    plain = list(event_messages(gen, 2000))
    for msg, clean in zip(messages, plain, strict=True):
        assert msg.key == clean.key
        if msg.invalid is None:
            assert msg == clean
            assert msg.label() is not None
        else:
            assert msg.label() is None
            assert msg.value != clean.value
    assert sum(m.invalid is not None for m in messages) == sum(
        mix.kind_at(i) is not None for i in range(2000)
    )


def test_valid_messages_are_the_generated_events_as_compact_json() -> None:
    gen = ChurnGenerator(seed=4)
    for msg, (event, churned) in zip(
        event_messages(gen, 50), itertools.islice(gen.events(None), 50), strict=True
    ):
        assert json.loads(msg.value) == event
        assert msg.label() == (event["event_id"], event["customer_id"], churned)
        assert b" " not in msg.value.split(b'"name"')[0]
