"""`streamscore dlq replay` on the real broker: events a scorer dead-lettered come back
after the fix, are scored once each, and never twice, even across a SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from consumers.scorer import run_scorer
from core.kafka.config import consumer_config
from core.schemas import REPLAYED_FROM_HEADER, Prediction
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import encode
from tests.integration.kafka_io import produce, read_committed, running, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIGHT, FIXED = 512, 4096
"""`validation.max_event_bytes` before and after the fix: the producer added a ~700-byte
`notes` field (an extra field the contract ignores), which the tight limit rejects.
It also sends an `email`, which no sample may show."""


def load(settings: Settings, good: int, padded: int, broken: int, seed: int) -> dict[str, set[str]]:
    """Publish valid events, padded ones (valid once the limit is raised) and broken JSON
    (invalid whatever the settings); the event ids of the first two kinds."""
    events = [e for e, _ in ChurnGenerator(seed=seed).events(good + padded + broken)]
    records: list[tuple[bytes | None, bytes]] = []
    ids: dict[str, set[str]] = {"good": set(), "padded": set()}
    for i, event in enumerate(events):
        key = event["customer_id"].encode()
        if i < good:
            ids["good"].add(event["event_id"])
            records.append((key, encode(event)))
        elif i < good + padded:
            ids["padded"].add(event["event_id"])
            email = f"{event['customer_id']}@example.com"
            value = encode({**event, "email": email, "notes": "n" * 700})
            assert TIGHT < len(value) < FIXED
            records.append((key, value))
        else:
            records.append((key, encode(event)[:-7]))
    produce(settings, settings.topics.events, records)
    return ids


def dead_letter_through_the_scorer(settings: Settings, ids: dict[str, set[str]], dead: int) -> None:
    settings.validation.max_event_bytes = TIGHT
    with running(run_scorer, settings):
        predictions = read_committed(settings, settings.topics.predictions, len(ids["good"]))
        letters = read_committed(settings, settings.topics.dlq, dead, idle_s=1)
    assert {Prediction.model_validate_json(r.value()).event_id for r in predictions} == ids["good"]
    assert len(letters) == dead


def dlq(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streamscore", "dlq", *args],
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def dlq_json(settings: Settings, *args: str) -> dict[str, Any]:
    proc = dlq(settings, *args, "--json")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()[-2000:]
    document: dict[str, Any] = json.loads(out)
    return document


def committed(settings: Settings, group: str, timeout_s: float = 30) -> int:
    consumer = Consumer(consumer_config(settings, group))
    try:
        tps = [TopicPartition(settings.topics.dlq, p) for p in range(settings.kafka.partitions)]
        return sum(max(tp.offset, 0) for tp in consumer.committed(tps, timeout=timeout_s))
    finally:
        consumer.close()


def replayed_inputs(settings: Settings, expected: int) -> list[str]:
    """The `streamscore.replayed-from` header of every replayed record on the input."""
    records = read_committed(settings, settings.topics.events, expected, idle_s=2)
    return [
        value.decode()
        for r in records
        for name, value in (r.headers() or [])
        if name == REPLAYED_FROM_HEADER
    ]


def customer_ids(settings: Settings) -> set[str]:
    records = read_committed(settings, settings.topics.dlq, 1, idle_s=1)
    return {r.key().decode() for r in records if r.key()}


def predictions_by_event(settings: Settings, expected: int) -> Counter[str]:
    records = read_committed(settings, settings.topics.predictions, expected, idle_s=3)
    return Counter(Prediction.model_validate_json(r.value()).event_id for r in records)


def test_after_the_fix_a_replay_brings_back_each_passing_dead_letter_once_and_scores_it_once(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    ids = load(settings, good=60, padded=40, broken=12, seed=31)
    dead_letter_through_the_scorer(settings, ids, dead=52)

    stats = dlq_json(settings, "stats", "--since", "1h")
    assert stats["by_reason"] == {"oversized_message": 40, "malformed_json": 12}
    assert sum(stats["by_source_partition"].values()) == 52
    samples = json.dumps(stats["samples"])
    assert "<pii>" in samples
    assert "example.com" not in samples
    assert "nnnn" not in samples
    assert not any(cid in samples for cid in customer_ids(settings))

    settings.validation.max_event_bytes = FIXED
    other = dlq_json(settings, "replay", "--dry-run", "--reason", "malformed_json")
    assert (other["replayed"], other["skipped"]) == (0, {"reason_filter": 40})
    dry = dlq_json(settings, "replay", "--dry-run")
    assert (dry["replayed"], dry["still_invalid"]) == (40, {"malformed_json": 12})
    assert committed(settings, settings.dlq.group_id) == 0, "a dry run commits nothing"

    first = dlq_json(settings, "replay")
    assert first["replayed"] == 40
    assert first["replayed_by_original_reason"] == {"oversized_message": 40}
    assert first["still_invalid"] == {"malformed_json": 12}
    second = dlq_json(settings, "replay")
    assert (second["examined"], second["replayed"]) == (0, 0)

    with running(run_scorer, settings):
        scored = predictions_by_event(settings, expected=100)
    assert set(scored) == ids["good"] | ids["padded"]
    assert set(scored.values()) == {1}, "an event was scored twice"
    origins = replayed_inputs(settings, expected=112 + 40)
    assert len(origins) == len(set(origins)) == 40
    assert all(o.startswith(f"{settings.topics.dlq}:") for o in origins)


def test_a_replay_killed_midway_then_rerun_replays_every_dead_letter_exactly_once(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    register_model()
    padded = 3000
    ids = load(settings, good=30, padded=padded, broken=20, seed=32)
    dead_letter_through_the_scorer(settings, ids, dead=padded + 20)

    settings.validation.max_event_bytes = FIXED
    settings.dlq.batch_size = 10
    group = settings.dlq.group_id
    log = tmp_path / "replay.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "dlq", "replay"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 120
    while committed(settings, group) < 300 and time.monotonic() < deadline:
        assert proc.poll() is None, "the replay ended before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # A transaction the kill left open holds a read_committed offset fetch until the broker
    # aborts it (`dlq.transaction_timeout_ms`, 30 s, plus its abort check): wait past that.
    at_kill = committed(settings, group, timeout_s=120)
    assert 300 <= at_kill < padded + 20, f"killed at {at_kill}: {log.read_text()[-3000:]}"

    rerun = dlq_json(settings, "replay")
    assert 0 < rerun["replayed"] < padded
    again = dlq_json(settings, "replay")
    assert again["examined"] == 0

    origins = replayed_inputs(settings, expected=30 + padded + 20 + padded)
    assert len(origins) == padded, "a dead letter was lost or replayed twice"
    assert len(set(origins)) == padded
    with running(run_scorer, settings):
        scored = predictions_by_event(settings, expected=30 + padded)
    assert set(scored) == ids["good"] | ids["padded"]
    assert set(scored.values()) == {1}, "an event was scored twice"
