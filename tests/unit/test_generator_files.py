"""Event files: a dry run writes exactly the bytes a live run sends; a replay reads them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.schemas import Outcome
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import EventMessage, event_messages
from producers.replay import (
    ReplayFileError,
    count_records,
    outcomes_path,
    read_event_file,
    write_event_file,
)


def _messages(n: int = 3000, rate: float = 0.1) -> list[EventMessage]:
    return list(event_messages(ChurnGenerator(seed=6), n, invalid=InvalidMix(seed=6, rate=rate)))


def test_a_dry_run_writes_one_value_per_line_and_the_labels_beside_them(tmp_path: Path) -> None:
    messages = _messages()
    path = tmp_path / "events.jsonl"
    report = write_event_file(messages, path, outcome_delay_s=30.0)
    lines = path.read_bytes().split(b"\n")[:-1]
    assert lines == [m.value for m in messages]
    valid = [m for m in messages if m.invalid is None]
    assert report.events == len(messages)
    assert report.outcomes == len(valid)
    assert sum(report.invalid.values()) == len(messages) - len(valid)
    outcomes = [Outcome.model_validate_json(line) for line in outcomes_path(path).open("rb")]
    assert [o.event_id for o in outcomes] == [m.event_id for m in valid]
    assert [o.churned for o in outcomes] == [m.churned for m in valid]
    first_time = datetime.fromisoformat(json.loads(valid[0].value)["event_time"])
    assert outcomes[0].observed_at == first_time + timedelta(seconds=30)


def test_without_outcomes_a_dry_run_writes_no_label_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    report = write_event_file(_messages(100), path, outcome_delay_s=None)
    assert report.outcomes == 0
    assert not outcomes_path(path).exists()


def test_replaying_a_dry_run_sends_the_same_bytes_keys_and_labels(tmp_path: Path) -> None:
    messages = _messages()
    path = tmp_path / "events.jsonl"
    write_event_file(messages, path, outcome_delay_s=5.0)
    replayed = list(read_event_file(path))
    assert count_records(path) == len(messages)
    assert [m.value for m in replayed] == [m.value for m in messages]
    for original, again in zip(messages, replayed, strict=True):
        assert again.label() == original.label()
        if original.invalid is None:
            assert again.key == original.key


def test_a_csv_replay_types_the_features_and_takes_a_churned_column_as_the_label(
    tmp_path: Path,
) -> None:
    path = tmp_path / "telco.csv"
    path.write_text(
        "customer_id,event_id,age,tenure_months,monthly_charges,total_charges,contract_type,"
        "churned,email\n"
        "c-1,e-1,34,12,70.5,846.0,month-to-month,1,a@example.com\n"
        "c-2,e-2,51,60,20,1200,two_year,0,\n"
        "c-3,e-3,abc,5,30.0,150.0,one_year,,\n"
    )
    first, second, third = read_event_file(path)
    assert json.loads(first.value) == {
        "customer_id": "c-1",
        "event_id": "e-1",
        "age": 34,
        "tenure_months": 12,
        "monthly_charges": 70.5,
        "total_charges": 846.0,
        "contract_type": "month-to-month",
        "email": "a@example.com",
    }
    assert first.key == b"c-1"
    assert first.label() == ("e-1", "c-1", 1)
    assert second.label() == ("e-2", "c-2", 0)
    assert "email" not in json.loads(second.value)
    assert json.loads(third.value)["age"] == "abc"  # a bad row stays bad
    assert third.label() is None
    assert count_records(path) == 3


def test_a_jsonl_line_with_a_churned_field_is_sent_without_it(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"customer_id":"c-9","event_id":"e-9","age":40,"churned":1}\n\n')
    (msg,) = read_event_file(path)
    assert json.loads(msg.value) == {"customer_id": "c-9", "event_id": "e-9", "age": 40}
    assert msg.label() == ("e-9", "c-9", 1)


def test_dry_runs_write_json_lines_only(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match=r"\.jsonl"):
        write_event_file(_messages(10), tmp_path / "events.csv", outcome_delay_s=None)


def test_an_unknown_file_type_or_missing_file_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match="unknown event file type"):
        list(read_event_file(tmp_path / "events.parquet"))
    with pytest.raises(ReplayFileError, match="cannot read"):
        list(read_event_file(tmp_path / "missing.jsonl"))
