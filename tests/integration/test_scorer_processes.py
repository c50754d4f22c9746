"""Scorer processes as a user runs them (`streamscore score`): crashes, restarts, and a
group of two, counted by a read_committed reader."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from core.kafka.local_broker import free_port
from core.schemas import Prediction
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages
from tests.integration.kafka_io import produce, read_committed, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def start_scorer(
    settings: Settings, instance: str, log: Path, port: int = 0
) -> subprocess.Popen[bytes]:
    env = settings_env(settings)
    env["STREAMSCORE_SCORER__INSTANCE_ID"] = instance
    env["STREAMSCORE_SCORER__HTTP_PORT"] = str(port)
    return subprocess.Popen(
        [sys.executable, "-m", "streamscore", "score"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_until_partitions_split(ports: list[int], partitions: int, timeout_s: float = 60) -> None:
    """Both replicas own partitions, together all of them: the group has settled."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        owned = []
        for port in ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    owned.append(json.loads(r.read())["partitions"])
            except OSError:
                owned.append([])
        if all(owned) and sum(len(o) for o in owned) == partitions:
            return
        time.sleep(0.5)
    raise AssertionError(f"the group did not settle within {timeout_s} s")


def load(settings: Settings, n: int, invalid_rate: float, seed: int) -> tuple[set[str], int]:
    mix = InvalidMix(rate=invalid_rate, seed=seed)
    messages = list(event_messages(ChurnGenerator(seed=seed), n, invalid=mix))
    produce(settings, settings.topics.events, [(m.key, m.value) for m in messages])
    valid = {m.event_id for m in messages if m.invalid is None and m.event_id}
    return valid, sum(m.invalid is not None for m in messages)


def test_sigkill_at_random_instants_then_restart_leaves_exactly_one_output_per_event(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    register_model()
    settings.scorer.batch_size = 500
    valid, invalid = load(settings, 30_000, invalid_rate=0.03, seed=11)
    rng = random.Random(5)
    log = tmp_path / "scorer.log"
    kills = 0
    for _ in range(4):
        proc = start_scorer(settings, "crashy", log)
        time.sleep(rng.uniform(2.5, 5.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
    proc = start_scorer(settings, "crashy", log)
    try:
        predictions = read_committed(
            settings, settings.topics.predictions, expected=len(valid), timeout_s=240, idle_s=4
        )
        dead = read_committed(settings, settings.topics.dlq, expected=invalid, idle_s=2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    ids = [Prediction.model_validate_json(r.value()).event_id for r in predictions]
    assert kills == 4
    assert len(ids) == len(valid), "a prediction is missing or duplicated"
    assert set(ids) == valid
    assert len(dead) == invalid


def test_two_scorers_in_one_group_split_the_partitions_and_score_each_event_once(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    register_model()
    settings.scorer.batch_size = 500
    ports = [free_port(), free_port()]
    procs = [
        start_scorer(settings, f"replica-{i}", tmp_path / f"scorer-{i}.log", ports[i])
        for i in range(2)
    ]
    try:
        wait_until_partitions_split(ports, settings.kafka.partitions)
        valid, _ = load(settings, 20_000, invalid_rate=0.02, seed=12)
        predictions = read_committed(
            settings, settings.topics.predictions, expected=len(valid), timeout_s=180
        )
        scored = []
        for port in ports:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            line = next(
                ln
                for ln in text.decode().splitlines()
                if ln.startswith("streamscore_events_scored_total")
            )
            scored.append(float(line.split()[-1]))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(60) for proc in procs]
    ids = [Prediction.model_validate_json(r.value()).event_id for r in predictions]
    assert len(ids) == len(set(ids)) == len(valid)
    assert all(s > 0 for s in scored), f"both replicas should score: {scored}"
    assert sum(scored) == len(valid)
    assert codes == [0, 0]


def test_a_replica_joining_mid_stream_rebalances_without_loss_or_duplicates(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    register_model()
    settings.scorer.batch_size = 200
    valid, _ = load(settings, 30_000, invalid_rate=0.0, seed=13)
    first = start_scorer(settings, "early", tmp_path / "early.log")
    second = None
    try:
        seen = read_committed(
            settings, settings.topics.predictions, expected=3000, timeout_s=60, idle_s=0
        )
        assert len(seen) < len(valid), "the first replica finished before the second joined"
        second = start_scorer(settings, "late", tmp_path / "late.log")
        predictions = read_committed(
            settings, settings.topics.predictions, expected=len(valid), timeout_s=180
        )
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(60) == 0
    ids = [Prediction.model_validate_json(r.value()).event_id for r in predictions]
    assert len(ids) == len(set(ids)) == len(valid)
    late_log = (tmp_path / "late.log").read_text()
    assert "partitions_assigned" in late_log
