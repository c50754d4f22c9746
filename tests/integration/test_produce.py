"""`produce` against the real broker: every record acknowledged, consumable, labelled."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.kafka.producer import CheckedProducer
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, Outcome
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages
from producers.publisher import publish
from streamscore.cli import main
from tests.integration.kafka_io import read_committed

pytestmark = pytest.mark.integration


def _config_file(settings: Settings, tmp_path: Path) -> Path:
    """The fixture's settings as a TOML file, so the CLI talks to the test's topics."""
    topics = "\n".join(f'{k} = "{v}"' for k, v in settings.topics.model_dump().items())
    path = tmp_path / "settings.toml"
    path.write_text(
        f'state_dir = "{settings.state_dir}"\n'
        f'[kafka]\nbootstrap_servers = "{settings.kafka.bootstrap_servers}"\n'
        f"partitions = {settings.kafka.partitions}\n"
        f"[topics]\n{topics}\n"
    )
    return path


def test_every_produced_event_is_acknowledged_and_consumable_with_outcomes_following(
    settings: Settings, unique: str
) -> None:
    gen = ChurnGenerator(seed=31, id_prefix=unique)
    messages = list(event_messages(gen, 3000, invalid=InvalidMix(seed=31, rate=0.05)))
    valid = {m.event_id: m for m in messages if m.invalid is None}
    delay_s = 0.5

    report = publish(
        CheckedProducer.from_settings(settings, raise_failures=False),
        messages,
        events_topic=settings.topics.events,
        outcomes_topic=settings.topics.outcomes,
        outcome_delay_s=delay_s,
        progress=False,
    )

    assert report.ok
    assert (report.events.sent, report.events.acknowledged) == (3000, 3000)
    assert report.outcomes.acknowledged == len(valid)
    assert sum(report.invalid.values()) == 3000 - len(valid)

    events = read_committed(settings, settings.topics.events, 3000)
    assert Counter(m.value() for m in events) == Counter(m.value for m in messages)
    assert all((CONTRACT_HEADER, CONTRACT_VERSION.encode()) in m.headers() for m in events)
    by_value = {m.value: event_id for event_id, m in valid.items()}
    sent_at = {}
    for record in events:
        event_id = by_value.get(record.value())
        if event_id is not None:
            assert record.key() == valid[event_id].key
            sent_at[event_id] = (record.partition(), record.timestamp()[1])

    outcomes = read_committed(settings, settings.topics.outcomes, len(valid))
    assert len(outcomes) == len(valid)
    for record in outcomes:
        outcome = Outcome.model_validate_json(record.value())
        assert outcome.churned == valid[outcome.event_id].churned
        partition, event_ms = sent_at[outcome.event_id]
        assert record.partition() == partition  # same key: a join needs no shuffle
        # The delay is a lower bound by construction; the slack covers millisecond
        # truncation and the wall clock drifting against the monotonic one.
        assert record.timestamp()[1] >= event_ms + delay_s * 1000 - 50


def test_the_cli_reports_every_record_acknowledged_at_an_asked_rate(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(settings, tmp_path)
    argv = ["--config", str(config), "produce", "--n", "400", "--rate", "800"]
    argv += ["--invalid-rate", "0.1", "--outcome-delay", "0.2", "--json", "--no-progress"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["failed"] == 0
    assert report["sent"] == report["acknowledged"]
    assert report["events"]["acknowledged"] == 400
    assert report["outcomes"]["acknowledged"] == 400 - sum(report["invalid"].values())
    assert report["topics"]["events"] == settings.topics.events
    assert len(read_committed(settings, settings.topics.events, 400, idle_s=1.0)) == 400


def test_a_replayed_dry_run_arrives_byte_for_byte_with_its_labels(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(settings, tmp_path)
    path = tmp_path / "events.jsonl"
    common = ["--config", str(config), "produce", "--no-progress", "--json"]
    dry = [*common, "--n", "500", "--invalid-rate", "0.1", "--dry-run", "--out", str(path)]
    assert main(dry) == 0
    assert main([*common, "--replay", str(path), "--max-speed", "--outcome-delay", "0"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["events"]["acknowledged"] == 500

    lines = path.read_bytes().split(b"\n")[:-1]
    events = read_committed(settings, settings.topics.events, 500, idle_s=1.0)
    assert Counter(m.value() for m in events) == Counter(lines)
    labels = (path.parent / "events.jsonl.outcomes.jsonl").read_bytes().split(b"\n")[:-1]
    outcomes = read_committed(settings, settings.topics.outcomes, len(labels), idle_s=1.0)
    replayed = {Outcome.model_validate_json(m.value()).event_id for m in outcomes}
    assert replayed == {Outcome.model_validate_json(line).event_id for line in labels}
