"""Dead letters judged again, counted, redacted and selected by time: the pure parts of
`streamscore dlq`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.dead_letters.letter import DeadLetter
from core.dead_letters.reasons import ERROR_TYPES, KNOWN_REASONS, UNKNOWN
from core.dead_letters.redaction import PII, SampleRedactor
from core.dead_letters.revalidation import (
    Selection,
    UnknownReason,
    known_reasons,
    replay_record,
    revalidate,
)
from core.dead_letters.stats import DeadLetterStats
from core.dead_letters.tally import ReplayTally
from core.dead_letters.time_range import InvalidTime, TimeRange, parse_time
from core.kafka.dead_letter import dead_letter
from core.schemas import REPLAYED_FROM_HEADER
from core.validation import InvalidEvent, parse_event
from tests.stubs import StubRecord

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVENT = {
    "customer_id": "c-17",
    "event_id": "e-17",
    "age": 40,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "one_year",
}


def letter_of(
    value: bytes | None,
    reason: str,
    *,
    offset: int = 3,
    written_at: datetime = NOW,
    source_topic: str = "customer-events",
) -> DeadLetter:
    """A dead letter as the scorer writes it, read back from the DLQ."""
    source = StubRecord(source_topic, 2, 41, value, b"c-17")
    out = dead_letter(source, "customer-events-dlq", reason, "why")
    stored = StubRecord(
        "customer-events-dlq",
        1,
        offset,
        out.value,
        out.key,
        out.headers,
        int(written_at.timestamp() * 1000),
    )
    return DeadLetter.of(stored)


def padded(size: int) -> bytes:
    return json.dumps({**EVENT, "notes": "n" * size}).encode()


def test_a_dead_letter_reads_back_its_reason_source_and_original_bytes() -> None:
    letter = letter_of(padded(600), "oversized_message")
    assert (letter.reason, letter.message) == ("oversized_message", "why")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "customer-events",
        2,
        41,
    )
    assert letter.value == padded(600)
    assert letter.key == b"c-17"
    assert letter.coordinates == "customer-events-dlq:1:3"
    assert letter.written_at == NOW


def test_a_record_without_streamscore_headers_has_an_unknown_reason() -> None:
    letter = DeadLetter.of(StubRecord("dlq", 0, 0, b"{}", headers_=None))
    assert letter.reason == UNKNOWN
    assert letter.source_partition is None


def test_an_oversized_event_passes_once_the_limit_is_raised_and_not_before() -> None:
    letter = letter_of(padded(600), "oversized_message")
    selection = Selection("customer-events")
    assert revalidate(letter, selection, 512).outcome == "still_invalid"
    assert revalidate(letter, selection, 512).reason == "oversized_message"
    assert revalidate(letter, selection, 4096).outcome == "replayed"


def test_an_event_still_broken_keeps_todays_reason() -> None:
    verdict = revalidate(
        letter_of(b'{"age": 4', "malformed_json"), Selection("customer-events"), 4096
    )
    assert (verdict.outcome, verdict.reason) == ("still_invalid", "malformed_json")


def test_a_tombstone_stays_an_empty_message() -> None:
    verdict = revalidate(letter_of(None, "empty_message"), Selection("customer-events"), 4096)
    assert (verdict.outcome, verdict.reason) == ("still_invalid", "empty_message")


def test_the_selection_passes_over_other_reasons_older_letters_and_other_sources() -> None:
    good = json.dumps(EVENT).encode()
    selection = Selection("customer-events", frozenset({"processing_error"}), NOW)
    assert revalidate(letter_of(good, "processing_error"), selection, 4096).outcome == "replayed"
    other = revalidate(letter_of(good, "out_of_range"), selection, 4096)
    old = revalidate(
        letter_of(good, "processing_error", written_at=NOW - timedelta(seconds=1)), selection, 4096
    )
    foreign = revalidate(letter_of(good, "processing_error", source_topic="x"), selection, 4096)
    assert [v.reason for v in (other, old, foreign)] == [
        "reason_filter",
        "before_since",
        "other_source",
    ]
    assert {v.outcome for v in (other, old, foreign)} == {"skipped"}


def test_a_replayed_record_keeps_key_and_bytes_and_names_its_dead_letter() -> None:
    letter = letter_of(padded(600), "oversized_message", offset=9)
    record = replay_record(letter, "customer-events")
    assert (record.topic, record.key, record.value) == ("customer-events", b"c-17", padded(600))
    assert record.headers == [(REPLAYED_FROM_HEADER, b"customer-events-dlq:1:9")]
    assert record.partition is None, "partitioned by key, as the producer's record was"


def test_every_reason_validation_gives_is_a_known_reason() -> None:
    samples = [None, b"x" * 600, b"\xff", b"{", b"[]", b"{}", json.dumps({**EVENT, "age": 500})]
    samples += [json.dumps({**EVENT, "age": "40"}), json.dumps({**EVENT, "contract_type": "z"})]
    samples += [json.dumps({**EVENT, "customer_id": "c" * 200})]
    seen = set()
    for raw in samples:
        with pytest.raises(InvalidEvent) as caught:
            parse_event(raw.encode() if isinstance(raw, str) else raw, 512)
        seen.add(caught.value.error_type)
    assert seen <= ERROR_TYPES
    assert len(seen) == len(samples)
    assert ERROR_TYPES < KNOWN_REASONS


def test_an_unknown_reason_is_refused_with_the_known_ones_as_hint() -> None:
    assert known_reasons(["out_of_range", "out_of_range"]) == {"out_of_range"}
    with pytest.raises(UnknownReason) as caught:
        known_reasons(["out_of_rnage"])
    assert "out_of_range" in caught.value.one_line()


def test_the_tally_counts_committed_batches_and_keeps_reasons_apart() -> None:
    selection = Selection("customer-events", frozenset({"oversized_message", "malformed_json"}))
    replayed = revalidate(letter_of(padded(600), "oversized_message"), selection, 4096)
    tally = ReplayTally.of([replayed, replayed])
    batch = ReplayTally.of(
        [
            revalidate(letter_of(b"{", "malformed_json"), selection, 4096),
            revalidate(letter_of(b"{", "out_of_range"), selection, 4096),
        ]
    )
    tally.merge(batch)
    assert tally.as_dict() == {
        "examined": 4,
        "replayed": 2,
        "replayed_by_original_reason": {"oversized_message": 2},
        "still_invalid": {"malformed_json": 1},
        "skipped": {"reason_filter": 1},
    }


def test_a_sample_shows_shapes_and_feature_numbers_never_identifiers_or_pii() -> None:
    redact = SampleRedactor(["email", "name"])
    raw = json.dumps({**EVENT, "age": 212, "Email": "a@b.c", "extra": {"name": "Ann", "n": 4}})
    sample = redact(raw.encode())
    assert sample["age"] == 212
    assert sample["Email"] == PII
    assert sample["extra"] == {"name": PII, "n": "<number>"}
    assert sample["customer_id"] == "<string, 4 chars>"
    assert sample["contract_type"] == "one_year"
    unknown = redact(json.dumps({**EVENT, "contract_type": "ask Ann"}).encode())
    assert unknown["contract_type"] == "<string, 7 chars>"
    assert "c-17" not in json.dumps(sample)
    assert "Ann" not in json.dumps(sample)
    assert redact.key(b"c-17") == "<4 bytes>"
    assert redact(b"\xff\xfe") == "<2 bytes, not UTF-8>"
    assert redact(b"[1, 2]") == "<6 bytes, JSON array>"
    assert redact(b"") == "<empty>"


def test_a_nested_number_under_a_feature_name_is_not_shown() -> None:
    assert SampleRedactor([])(b'{"x": {"age": 44}}') == {"x": {"age": "<number>"}}


def test_stats_count_by_reason_and_source_partition_within_the_window() -> None:
    letters = [
        letter_of(padded(600), "oversized_message", offset=1, written_at=NOW),
        letter_of(b"{", "malformed_json", offset=2, written_at=NOW + timedelta(minutes=1)),
        letter_of(b"{", "malformed_json", offset=3, written_at=NOW + timedelta(minutes=2)),
        letter_of(b"{", "malformed_json", offset=4, written_at=NOW + timedelta(hours=2)),
    ]
    window = TimeRange(NOW, NOW + timedelta(hours=1))
    stats = DeadLetterStats.of(letters, window, SampleRedactor(["email"]), samples_per_reason=1)
    assert stats.as_dict()["by_reason"] == {"malformed_json": 2, "oversized_message": 1}
    assert stats.as_dict()["by_source_partition"] == {"customer-events[2]": 3}
    assert [len(s) for s in stats.samples.values()] == [1, 1]
    assert stats.samples["oversized_message"][0]["value"]["notes"] == "<string, 600 chars>"
    assert stats.last is not None
    assert stats.last.offset == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("30s", NOW - timedelta(seconds=30)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-30T08:00:00Z", datetime(2026, 11, 30, 8, tzinfo=UTC)),
        ("2026-11-30 08:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),
    ],
)
def test_times_are_read_as_spans_dates_or_rfc3339_in_utc(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["garbage", "", "3 parsecs", "-2h", "2026-13-01"])
def test_a_time_that_is_none_of_those_is_one_error(text: str) -> None:
    with pytest.raises(InvalidTime):
        parse_time(text, NOW)


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidTime, match="not after"):
        TimeRange.parse("1h", "2h", NOW)
    assert NOW - timedelta(minutes=30) in TimeRange.parse("1h", None, NOW)
    assert NOW - timedelta(hours=3) not in TimeRange.parse("1h", None, NOW)


def test_the_replay_handler_counts_a_batch_only_once_it_is_committed() -> None:
    from core.kafka.dead_letter_replay import ReplayHandler
    from core.settings import Settings

    settings = Settings(validation={"max_event_bytes": 4096})
    tally, seen = ReplayTally(), []
    handler = ReplayHandler(
        settings, Selection("customer-events"), tally, lambda d, e: seen.append((d, e)), 9
    )
    source = StubRecord("customer-events", 0, 5, padded(600), b"c-17")
    dead = dead_letter(source, "customer-events-dlq", "oversized_message", "too big")
    batch = [StubRecord("customer-events-dlq", 0, 7, dead.value, dead.key, dead.headers)]
    out = handler.process(batch)
    assert [(r.topic, r.value) for r in out] == [("customer-events", padded(600))]
    handler.batch_aborted()
    assert tally.examined == 0, "an aborted batch is redone, not counted"
    handler.process(batch)
    handler.batch_committed()
    assert tally.replayed == {"oversized_message": 1}
    assert seen == [(1, 9)]
