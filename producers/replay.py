"""Event files: what `produce --dry-run --out FILE` writes and `produce --replay FILE` reads.

Two formats, chosen by suffix:

- JSON lines (`.jsonl`, `.ndjson`, `.json`): one message value per line, exactly the
  bytes sent to Kafka, invalid ones included (a non-UTF-8 or malformed line is replayed
  as it is). The file is read as bytes, so the replay sends what was written.
- CSV (`.csv`): one event per row, header names are field names; `age` and
  `tenure_months` are sent as integers and the charges as numbers when they parse,
  anything else as the string it is (so a bad row stays bad); empty cells are left out.

Labels travel beside the events, never inside them (a label in the event would reach the
scorer): a dry run writes `FILE.outcomes.jsonl` next to `FILE`, one `customer-outcomes`
value per valid event, and a replay publishes them after the outcome delay. A `churned`
column or field in the events themselves (e.g. a public churn CSV) is also taken as the
label, and removed from the value before it is sent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.errors import StreamscoreError
from core.features import TARGET
from producers.invalid import encode
from producers.messages import EventMessage
from producers.outcomes import outcome_value

_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_INTEGER_FIELDS = ("age", "tenure_months")
_NUMBER_FIELDS = ("monthly_charges", "total_charges")


class ReplayFileError(StreamscoreError):
    """An event file cannot be read or written."""

    hint = "give a .jsonl/.ndjson/.json or .csv file (see docs/producers.md, Replay)"


def outcomes_path(path: Path) -> Path:
    """Where the labels of the events in `path` live."""
    return path.with_name(path.name + ".outcomes.jsonl")


@dataclass(frozen=True)
class DryRunReport:
    events: int
    outcomes: int
    invalid: dict[str, int]
    path: Path
    outcomes_path: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": 0,
            "written": self.events + self.outcomes,
            "events": self.events,
            "outcomes": self.outcomes,
            "invalid": self.invalid,
            "out": str(self.path),
            "outcomes_out": str(self.outcomes_path) if self.outcomes_path else None,
            "ok": True,
        }


def write_event_file(
    messages: Iterable[EventMessage],
    path: Path,
    *,
    outcome_delay_s: float | None,
) -> DryRunReport:
    """Write message values one per line, and labels beside them unless delay is None.

    An outcome's `observed_at` is its event's time plus the delay, as a live run stamps it.
    """
    if path.suffix.lower() not in _JSON_SUFFIXES:
        raise ReplayFileError(f"--dry-run writes JSON lines; {path} should end in .jsonl")
    labels = outcomes_path(path) if outcome_delay_s is not None else None
    delay = timedelta(seconds=outcome_delay_s or 0.0)
    events = outcomes = 0
    invalid: dict[str, int] = {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out, _open_or_null(labels) as label_out:
            for msg in messages:
                if b"\n" in msg.value:
                    raise ReplayFileError("a message value holds a newline; not line-safe")
                out.write(msg.value + b"\n")
                events += 1
                if msg.invalid is not None:
                    invalid[msg.invalid.value] = invalid.get(msg.invalid.value, 0) + 1
                    continue
                label = msg.label()
                if label_out is not None and label is not None and msg.event_time:
                    observed = datetime.fromisoformat(msg.event_time) + delay
                    label_out.write(outcome_value(*label, observed) + b"\n")
                    outcomes += 1
    except OSError as exc:
        raise ReplayFileError(f"cannot write {path}: {exc.strerror}") from None
    return DryRunReport(events, outcomes, dict(sorted(invalid.items())), path, labels)


def count_records(path: Path) -> int:
    """Records in an event file (for the progress bar)."""
    with _open_read(path) as f:
        lines = sum(1 for line in f if line.strip())
    return lines - 1 if path.suffix.lower() == ".csv" and lines else lines


def read_event_file(path: Path) -> Iterator[EventMessage]:
    """Messages to replay, labelled from the outcomes file or a `churned` field."""
    labels = _read_labels(outcomes_path(path))
    if path.suffix.lower() == ".csv":
        yield from _csv_messages(path, labels)
    elif path.suffix.lower() in _JSON_SUFFIXES:
        yield from _jsonl_messages(path, labels)
    else:
        raise ReplayFileError(f"unknown event file type {path.suffix!r} for {path}")


def _jsonl_messages(path: Path, labels: dict[str, int]) -> Iterator[EventMessage]:
    with _open_read(path) as f:
        for raw in f:
            value = raw.rstrip(b"\r\n")
            if not value.strip():
                continue
            try:
                record = json.loads(value)
            except (UnicodeDecodeError, ValueError):
                yield EventMessage(None, value)
                continue
            if isinstance(record, dict) and TARGET in record:
                churned = record.pop(TARGET)
                yield _labelled(record, encode(record), churned)
            elif isinstance(record, dict):
                event_id = record.get("event_id")
                yield _labelled(record, value, labels.get(event_id) if event_id else None)
            else:
                yield EventMessage(None, value)


def _csv_messages(path: Path, labels: dict[str, int]) -> Iterator[EventMessage]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                record: dict[str, Any] = {
                    k: _typed(k, v) for k, v in row.items() if k and v not in (None, "")
                }
                churned = record.pop(TARGET, None)
                if churned is None and isinstance(record.get("event_id"), str):
                    churned = labels.get(record["event_id"])
                yield _labelled(record, encode(record), churned)
    except UnicodeDecodeError as exc:
        raise ReplayFileError(f"{path} is not UTF-8 text: {exc.reason}") from None


def _labelled(record: dict[str, Any], value: bytes, churned: Any) -> EventMessage:
    customer_id = record.get("customer_id")
    key = customer_id.encode() if isinstance(customer_id, str) else None
    event_id = record.get("event_id")
    label: int | None = None
    if str(churned).strip().lower() in ("1", "true", "yes"):
        label = 1
    elif str(churned).strip().lower() in ("0", "false", "no"):
        label = 0
    has_ids = isinstance(event_id, str) and isinstance(customer_id, str)
    event_time = record.get("event_time")
    return EventMessage(
        key,
        value,
        event_id if has_ids else None,
        customer_id if has_ids else None,
        label if has_ids else None,
        event_time=event_time if isinstance(event_time, str) else None,
    )


def _typed(name: str, text: str) -> Any:
    if name in _INTEGER_FIELDS or name == TARGET:
        try:
            return int(text)
        except ValueError:
            pass
    if name in _NUMBER_FIELDS or name in _INTEGER_FIELDS:
        try:
            return float(text)
        except ValueError:
            pass
    return text


def _read_labels(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    labels: dict[str, int] = {}
    with _open_read(path) as f:
        for line in f:
            if line.strip():
                outcome = json.loads(line)
                labels[outcome["event_id"]] = int(outcome["churned"])
    return labels


def _open_read(path: Path) -> Any:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ReplayFileError(f"cannot read {path}: {exc.strerror}") from None


class _NullFile:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _open_or_null(path: Path | None) -> Any:
    return path.open("wb") if path is not None else _NullFile()
