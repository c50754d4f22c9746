"""The monitor's fast decoder takes a record exactly when the contract's models do, and
the join's batch path does exactly what one call per half does."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.packing import pack
from core.performance.decoding import DecodedBatch, Side, decode_batch
from core.performance.join import JoinBuffer
from core.schemas import Outcome, Prediction
from tests.stubs import StubRecord

PREDICTION: dict[str, Any] = {
    "event_id": "e-1",
    "customer_id": "c-1",
    "prediction": 1,
    "probability": 0.75,
    "risk_level": "high",
    "model_name": "churn",
    "model_version": 3,
    "scored_at": "2026-01-01T00:00:00Z",
}
OUTCOME: dict[str, Any] = {
    "event_id": "e-1",
    "customer_id": "c-1",
    "churned": 1,
    "observed_at": "2026-01-01T00:00:05Z",
}
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([0.0, 1.0, -0.0, 0.5, 1.5, -0.1, 1e-300, 2**63]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x" * 129, "x" * 128, "low", "medium", "high", "HIGH", "1", "0.5"]),
    st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01t00:00:00z",
            "2026-01-01 00:00:00+01:00",
            "2026-01-01",
            "2026-02-30T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:59:60Z",
            "1767225600",
            "yesterday",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)


def records(topic: str, raw: bytes) -> list[StubRecord]:
    return [StubRecord(topic, 2, 7, raw, timestamp_ms=1_500)]


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(PREDICTION), "extra"]), values, max_size=4))
def test_a_prediction_counts_exactly_when_the_contract_model_accepts_it(
    overrides: dict[str, Any],
) -> None:
    raw = json.dumps({**PREDICTION, **overrides}).encode()
    try:
        expected: Prediction | None = Prediction.model_validate_json(raw)
    except ValidationError:
        expected = None
    decoded = decode_batch(records("p", raw), "p", "o")
    assert (2 in decoded.partitions) == (expected is not None), raw
    if expected is not None:
        item = decoded.partitions[2].items[0]
        assert item == (
            expected.event_id,
            1.5,
            expected.model_name,
            expected.model_version,
            expected.probability,
            expected.prediction,
        )
    else:
        assert decoded.invalid == {"p": 1}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*sorted(OUTCOME), "extra"]), values, max_size=3))
def test_an_outcome_counts_exactly_when_the_contract_model_accepts_it(
    overrides: dict[str, Any],
) -> None:
    raw = json.dumps({**OUTCOME, **overrides}).encode()
    try:
        expected: Outcome | None = Outcome.model_validate_json(raw)
    except ValidationError:
        expected = None
    decoded = decode_batch(records("o", raw), "p", "o")
    assert (2 in decoded.partitions) == (expected is not None), raw
    if expected is not None:
        assert decoded.partitions[2].items[0] == (expected.event_id, 1.5, expected.churned)


def test_bytes_that_are_not_json_are_invalid_and_other_topics_ignored() -> None:
    batch = [
        *records("p", b"\xff{"),
        *records("o", b""),
        StubRecord("o", 1, 0, None),
        *records("elsewhere", b"{}"),
    ]
    decoded = decode_batch(batch, "p", "o")
    assert (decoded.partitions, decoded.invalid) == ({}, {"p": 1, "o": 2})


def test_a_batch_tells_every_partition_it_read_and_how_far_valid_or_not() -> None:
    """What `MonitorHandler.unread` and the idle tracker need, from the decoding pass:
    the largest timestamp per partition and topic over valid and invalid records alike
    (a topic-partition without timestamps left out), and every partition delivered."""
    prediction, outcome = json.dumps(PREDICTION).encode(), json.dumps(OUTCOME).encode()
    batch = [
        StubRecord("p", 0, 0, prediction, timestamp_ms=2_000),
        StubRecord("p", 0, 1, b"{}", timestamp_ms=3_500),
        StubRecord("p", 0, 2, prediction, timestamp_ms=2_500),
        StubRecord("o", 0, 0, outcome, timestamp_ms=1_000),
        StubRecord("o", 1, 0, b"not json", timestamp_ms=4_000),
        StubRecord("p", 1, 0, prediction, timestamp_ms=-1),
        StubRecord("elsewhere", 5, 0, b"{}", timestamp_ms=9_000),
    ]
    decoded = decode_batch(batch, "p", "o")
    assert decoded.read() == {(0, "predictions"): 3.5, (0, "outcomes"): 1.0, (1, "outcomes"): 4.0}
    assert decoded.delivered() == {0, 1, 5}
    assert decoded.partitions[0].predictions_seen == 2.5  # the clock: valid records only


def stream(seed: int, n: int = 2_000) -> list[tuple[Any, ...]]:
    """Halves of predictions and outcomes, shuffled, with redeliveries and late ones."""
    rng = random.Random(seed)
    items: list[tuple[float, tuple[Any, ...]]] = []
    for i in range(n):
        t = round(i * 0.05, 3)
        items.append((t + rng.uniform(0, 3), (f"e{i}", t, "churn", 1 + i % 2, rng.random(), i % 2)))
        if rng.random() < 0.8:
            o = round(t + rng.uniform(0, 40), 3)
            items.append((o + rng.uniform(0, 3), (f"e{i}", o, int(rng.random() < 0.3))))
    items += rng.sample(items, len(items) // 20)
    items.sort(key=lambda x: x[0])
    return [item for _, item in items]


def run(items: list[tuple[Any, ...]], batched: bool, cap: int) -> tuple[JoinBuffer, list[Any]]:
    buffer = JoinBuffer(label_delay_s=30, max_entries=cap)
    pairs: list[Any] = []
    for k in range(0, len(items), 250):
        chunk = items[k : k + 250]
        if batched:
            pairs += buffer.add_batch(chunk).pairs()
        else:
            for item in chunk:
                if len(item) == 6:
                    joined = buffer.add_prediction(
                        item[0],
                        model_name=item[2],
                        model_version=item[3],
                        probability=item[4],
                        prediction=item[5],
                        event_time=item[1],
                    )
                else:
                    joined = buffer.add_outcome(item[0], label=item[2], event_time=item[1])
                if joined.pair is not None:
                    pairs.append(joined.pair)
        buffer.advance(chunk[-1][1] - 10)
        buffer = JoinBuffer.from_bytes(buffer.to_bytes())
    return buffer, pairs


def test_a_batch_joins_exactly_as_one_call_per_half_even_when_the_buffer_is_capped() -> None:
    items = stream(seed=11)
    for cap in (10_000, 300):
        one, one_pairs = run(items, batched=False, cap=cap)
        many, many_pairs = run(items, batched=True, cap=cap)
        assert asdict(many.counts) == asdict(one.counts)
        assert many_pairs == one_pairs
        assert many.to_bytes() == one.to_bytes()
    assert one.counts.capped > 0


def test_a_checkpoint_of_the_json_format_is_still_read() -> None:
    old = {
        "format": 1,
        "label_delay_s": 60.0,
        "max_entries": 100,
        "watermark": 5.0,
        "counts": {"predictions": 2, "outcomes": 1, "paired": 1},
        "names": ["churn"],
        "ids": ["e2", "e1", "e3"],
        "kinds": "PDO",
        "times": [6.0, 7.5, 9.0],
        "model": [0],
        "version": [4],
        "probability": [0.25],
        "prediction": "0",
        "label": "1",
    }
    buffer = JoinBuffer.from_bytes(pack(old, level=1))
    assert (len(buffer), buffer.pending_predictions, buffer.pending_outcomes) == (3, 1, 1)
    assert buffer.add_outcome("e2", label=1, event_time=8.0).pair is not None
    assert (
        buffer.add_prediction(
            "e3", model_name="churn", model_version=4, probability=0.9, prediction=1, event_time=8.5
        ).status
        == "paired"
    )
    assert buffer.add_outcome("e1", label=0, event_time=7.0).status == "duplicate"


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 120))
def test_a_batch_cut_short_is_what_decoding_the_rest_gives(seed: int, n: int) -> None:
    """`DecodedBatch.without`: the records of some topic-partitions dropped from some
    index on, as the monitor leaves them unread, without decoding the rest again."""
    rng = random.Random(seed)
    values = {
        "p": [json.dumps(PREDICTION | {"model_version": v}).encode() for v in (1, 2)],
        "o": [json.dumps(OUTCOME).encode()],
        "x": [b"{}"],
    }
    batch = []
    for position in range(n):
        topic = rng.choice("ppoox")
        value = rng.choice(values[topic]) if rng.random() < 0.85 else b"{"
        at = rng.choice([-1, *range(0, 10_000, 250)])
        batch.append(StubRecord(topic, rng.randrange(3), position, value, timestamp_ms=at))
    cuts: dict[tuple[int, Side], int] = {
        (p, side): rng.randrange(n + 1)
        for p in range(3)
        for side in ("predictions", "outcomes")
        if rng.random() < 0.4
    }
    side = {"p": "predictions", "o": "outcomes"}
    rest = [
        r
        for k, r in enumerate(batch)
        if r.topic_ not in side or k < cuts.get((r.partition_, side[r.topic_]), n + 1)
    ]
    cut, fresh = decode_batch(batch, "p", "o").without(cuts), decode_batch(rest, "p", "o")

    def seen(d: DecodedBatch) -> dict[int, tuple[Any, ...]]:
        return {p: (t.items, t.predictions_seen, t.outcomes_seen) for p, t in d.partitions.items()}

    assert seen(cut) == seen(fresh)
    assert (cut.models, cut.invalid) == (fresh.models, fresh.invalid)
    assert (cut.read(), cut.delivered()) == (fresh.read(), fresh.delivered())
