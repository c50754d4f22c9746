"""Hostile bytes on the Kafka path: every record value is an event or a dead letter with a
reason, the drift watcher's fast decoder counts exactly the events the scorer scores, no
exception escapes, and decoding one input never holds much more memory than the input."""

from __future__ import annotations

import contextlib
import tracemalloc

import pytest
from hypothesis import given
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from consumers.scorer import ScorerMetrics, ScoringHandler
from core.event_columns import decode_columns
from core.follower import ProductionFollower
from core.registry import ModelRegistry
from core.schemas import CustomerEvent, DeadLetterHeaders, Outcome, Prediction
from core.scoring import LoadedModel
from core.settings import Settings
from core.validation import InvalidEvent, parse_event
from tests.hostile_inputs import FUZZ_CI, hostile_bytes
from tests.models import train_and_register
from tests.stubs import StubRecord

ERROR_TYPES = frozenset(
    {
        "empty_message",
        "oversized_message",
        "not_utf8",
        "malformed_json",
        "not_an_object",
        "missing_field",
        "out_of_range",
        "unknown_category",
        "oversized_value",
        "wrong_type",
        "invalid_value",
    }
)
DEFAULT_LIMIT = 64 * 1024
LARGE_LIMIT = 4 * 1024 * 1024
"""The API's batch body limit: large enough for megabyte strings to reach the parser."""
MEMORY_SLACK = 4 * 1024 * 1024


def verdict(raw: bytes, limit: int) -> str:
    """`valid`, or the error type; anything but `InvalidEvent` escapes and fails."""
    try:
        fields = parse_event(raw, limit)
    except InvalidEvent as exc:
        invalid = exc
    else:
        CustomerEvent.model_validate(fields)
        return "valid"
    assert invalid.error_type in ERROR_TYPES, invalid.error_type
    assert str(invalid)
    assert invalid.fields
    return invalid.error_type


@pytest.mark.parametrize("limit", [DEFAULT_LIMIT, LARGE_LIMIT])
@FUZZ_CI
@given(raw=hostile_bytes)
def test_every_value_is_an_event_or_an_invalid_event_with_a_known_reason(
    raw: bytes, limit: int
) -> None:
    verdict(raw, limit)


@FUZZ_CI
@given(raw=hostile_bytes)
def test_decoding_one_input_holds_little_more_memory_than_the_input(raw: bytes) -> None:
    tracemalloc.start()
    try:
        verdict(raw, LARGE_LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 4 * len(raw) + MEMORY_SLACK, f"{peak} bytes for a {len(raw)}-byte input"


def _record(raw: bytes | None, offset: int = 0) -> StubRecord:
    return StubRecord("customer-events", 0, offset, raw, b"k", timestamp_ms=1_767_225_600_000)


@pytest.mark.parametrize("limit", [DEFAULT_LIMIT, LARGE_LIMIT])
@FUZZ_CI
@given(raw=hostile_bytes)
def test_the_drift_decoder_counts_exactly_the_events_the_scorer_scores(
    raw: bytes, limit: int
) -> None:
    columns = decode_columns([_record(raw)], limit)
    assert (columns.valid, columns.invalid) == (
        (1, 0) if verdict(raw, limit) == "valid" else (0, 1)
    )


@pytest.fixture(scope="module")
def scoring_handler(tmp_path_factory: pytest.TempPathFactory) -> ScoringHandler:
    root = tmp_path_factory.mktemp("fuzz-registry")
    train_and_register(root, seed=5, rows=500)
    settings = Settings(registry={"path": root})
    follower = ProductionFollower(ModelRegistry(root), "churn", LoadedModel.load, poll_s=3600)
    follower.refresh(force=True)
    return ScoringHandler(settings, follower, ScorerMetrics(CollectorRegistry()))


@FUZZ_CI
@given(raw=hostile_bytes)
def test_the_scorer_gives_every_record_one_prediction_or_one_dead_letter_with_its_reason(
    scoring_handler: ScoringHandler, raw: bytes
) -> None:
    records = [_record(raw, 0), _record(None, 1)]
    out = scoring_handler.process(records)
    by_topic: dict[str, list[object]] = {}
    for record in out:
        by_topic.setdefault(record.topic, []).append(record)
    dead = by_topic.get("customer-events-dlq", [])
    predictions = by_topic.get("churn-predictions", [])
    expected_valid = verdict(raw, DEFAULT_LIMIT) == "valid"
    assert len(predictions) == int(expected_valid)
    assert len(dead) == 2 - int(expected_valid), "the tombstone is dead-lettered too"
    for letter in dead:
        headers = dict(letter.headers or [])  # type: ignore[attr-defined]
        assert headers[DeadLetterHeaders.ERROR_TYPE.value].decode() in ERROR_TYPES
    assert dead[-1].value == b""  # type: ignore[attr-defined]
    if not expected_valid:
        assert dead[0].value == raw  # type: ignore[attr-defined]


@FUZZ_CI
@given(raw=hostile_bytes)
def test_outcome_and_prediction_records_of_any_bytes_validate_or_raise_validation_error(
    raw: bytes,
) -> None:
    """What the monitor and the retrainer's label read-back do with `customer-outcomes`
    (written by other teams) and `churn-predictions`: count a bad record, never crash."""
    for model in (Outcome, Prediction):
        with contextlib.suppress(ValidationError):
            model.model_validate_json(raw)
