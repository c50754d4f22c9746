"""The retrainer closes the loop on the real broker: alerts in, one decision per alert
out, challengers promoted (and scorers following) or rejected, across restarts and
crashes."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consumers.drift import run_drift
from consumers.retrainer import run_retrainer
from consumers.scorer import run_scorer
from core.drift.alert import DriftAlert
from core.kafka.local_broker import free_port
from core.registry import ModelRegistry
from core.retraining.decision import RetrainDecision
from core.schemas import ModelEvent, Prediction
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import InvalidMix
from producers.messages import event_messages
from producers.outcomes import outcome_value
from producers.scenarios import FeatureShift
from tests.integration.kafka_io import produce, read_committed, running, settings_env

pytestmark = pytest.mark.integration

DRIFT = FeatureShift(feature="monthly_charges", shift=35.0)


def configure(settings: Settings) -> None:
    settings.registry.poll_s = 0.5
    settings.drift.window_kind = "count"
    settings.drift.window_events = 1000
    settings.drift.min_window_events = 500
    settings.drift.batch_size = 700
    r = settings.retrain
    # Generated event times start at 2026-01-01: a lookback long enough for all of them.
    r.min_labelled_rows, r.lookback_s, r.max_events = 1000, 400 * 86_400.0, 100_000
    r.bootstrap_resamples, r.batch_timeout_ms = 200, 200
    # The test's own promotion of v1 would start the cooldown: alerts seconds later must act.
    r.cooldown_s = 0


def publish_labelled(
    settings: Settings,
    n: int,
    *,
    seed: int,
    start: int = 0,
    drifted: bool = False,
    invalid_rate: float = 0.0,
    scramble: bool = False,
) -> tuple[set[str], int]:
    """`n` events (some invalid) and an outcome for every valid one; `scramble` shuffles
    the labels among the events, so they keep their rate and lose their relation."""
    gen = ChurnGenerator(seed=seed, scenarios=[DRIFT] if drifted else [])
    mix = InvalidMix(seed=seed, rate=invalid_rate) if invalid_rate else None
    messages = list(event_messages(gen, n, start, mix))
    produce(settings, settings.topics.events, [(m.key, m.value) for m in messages])
    labels = [label for m in messages if (label := m.label()) is not None]
    churned = [c for _, _, c in labels]
    if scramble:
        random.Random(seed).shuffle(churned)
    observed = datetime.now(UTC)
    outcomes = [
        (cid.encode(), outcome_value(eid, cid, label, observed))
        for (eid, cid, _), label in zip(labels, churned, strict=True)
    ]
    produce(settings, settings.topics.outcomes, outcomes)
    return {m.event_id for m in messages if m.event_id}, sum(
        m.invalid is not None for m in messages
    )


def publish_alert(settings: Settings, alert_id: str, version: int, times: int = 1) -> None:
    now = datetime.now(UTC)
    alert = DriftAlert(
        alert_id=alert_id,
        model_name=settings.registry.model_name,
        model_version=version,
        window_start=now - timedelta(minutes=5),
        window_end=now,
        reference_events=4000,
        current_events=1000,
        drifting_features=["monthly_charges"],
        feature_results=[],
        severity="high",
        profile_digest="0" * 64,
    )
    value = alert.model_dump_json().encode()
    produce(settings, settings.topics.alerts, [(b"churn", value)] * times)


def decisions(settings: Settings, expected: int, timeout_s: float = 90) -> list[RetrainDecision]:
    records = read_committed(settings, settings.topics.retrain_decisions, expected, timeout_s)
    return [RetrainDecision.model_validate_json(r.value()) for r in records]


def model_events(settings: Settings) -> list[ModelEvent]:
    records = read_committed(settings, settings.topics.model_events, expected=1, idle_s=1)
    return [ModelEvent.model_validate_json(r.value()) for r in records]


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
        body: dict[str, Any] = json.loads(r.read())
        return body


def wait_for(check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError("the condition did not hold in time")


@contextmanager
def services(settings: Settings, *runs: Callable[[Settings, Any], None]) -> Iterator[None]:
    with ExitStack() as stack:
        for run in runs:
            stack.enter_context(running(run, settings))
        yield


def test_a_stable_stream_with_outcomes_trains_nothing(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    configure(settings)
    publish_labelled(settings, 6000, seed=31)
    with services(settings, run_drift, run_retrainer):
        read_committed(settings, settings.topics.drift_state, expected=1, timeout_s=60, idle_s=6)
    assert read_committed(settings, settings.topics.alerts, expected=0, idle_s=1) == []
    assert read_committed(settings, settings.topics.retrain_decisions, expected=0, idle_s=1) == []
    assert [v.version for v in ModelRegistry(settings.registry.path).versions("churn")] == [1]


def test_a_drifted_stream_trains_and_promotes_once_and_the_scorer_follows(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    v1 = register_model()
    configure(settings)
    settings.scorer.http_port = port = free_port()
    first, dead_first = publish_labelled(settings, 3000, seed=32, invalid_rate=0.02)
    drifted, dead_drifted = publish_labelled(
        settings, 6000, seed=32, start=3000, drifted=True, invalid_rate=0.02
    )
    with services(settings, run_scorer, run_drift, run_retrainer):
        promoted = [d for d in decisions(settings, expected=1) if d.outcome == "promoted"]
        assert len(promoted) == 1
        v2 = promoted[0].challenger_version
        wait_for(lambda: health(port)["model_version"] == v2)
        after, dead_after = publish_labelled(
            settings, 1000, seed=32, start=9000, drifted=True, invalid_rate=0.02
        )
        valid = first | drifted | after
        predictions = read_committed(
            settings, settings.topics.predictions, expected=len(valid), timeout_s=90
        )
        dead = read_committed(settings, settings.topics.dlq, expected=1, idle_s=1)
    everything = decisions(settings, expected=1, timeout_s=10)
    by_id = {
        p.event_id: p for p in (Prediction.model_validate_json(r.value()) for r in predictions)
    }
    assert len(predictions) == len(by_id) == len(valid)
    assert len(predictions) + len(dead) == 10_000
    assert len(dead) == dead_first + dead_drifted + dead_after
    assert {by_id[e].model_version for e in after} == {v2}
    assert Counter(d.outcome for d in everything)["promoted"] == 1
    assert not [d for d in everything if d.outcome in ("rejected", "trained")]
    registry = ModelRegistry(settings.registry.path)
    assert [v.version for v in registry.versions("churn")] == [v1, v2]
    assert registry.production_version("churn") == v2
    lineage = registry.get("churn", v2).metadata["retraining"]
    assert lineage["parent_version"] == v1
    assert lineage["alert_ids"] == promoted[0].alert_ids
    assert promoted[0].gate is not None
    assert promoted[0].gate.passed


def test_a_worse_challenger_is_rejected_announced_and_production_stays(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    v1 = register_model()
    configure(settings)
    publish_labelled(settings, 4000, seed=33, scramble=True)
    publish_alert(settings, "scrambled", v1)
    with services(settings, run_retrainer):
        found = decisions(settings, expected=1)
    assert [(d.alert_ids, d.outcome) for d in found] == [(["scrambled"], "rejected")]
    assert found[0].gate is not None
    assert not found[0].gate.passed
    registry = ModelRegistry(settings.registry.path)
    assert registry.production_version("churn") == v1
    rejected = [t for t in registry.history("churn") if t.event == "rejected"]
    assert [t.to_version for t in rejected] == [found[0].challenger_version]
    events = [e for e in model_events(settings) if e.event == "rejected"]
    assert [e.version for e in events] == [found[0].challenger_version]


def test_an_alert_delivered_twice_and_again_after_a_restart_gets_one_decision(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    v1 = register_model()
    configure(settings)
    publish_labelled(settings, 3000, seed=34)
    publish_alert(settings, "twice", v1, times=2)
    with services(settings, run_retrainer):
        decisions(settings, expected=1)
    publish_alert(settings, "twice", v1)
    with services(settings, run_retrainer):
        found = decisions(settings, expected=1, timeout_s=30)
    assert [d.alert_ids for d in found] == [["twice"]]
    versions = ModelRegistry(settings.registry.path).versions("churn")
    assert len(versions) == 2


def test_a_sigkill_during_training_ends_in_one_decision_after_restart(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    v1 = register_model()
    configure(settings)
    settings.retrain.model_kind = "forest"  # a fit slow enough to be killed in
    publish_labelled(settings, 20_000, seed=35)
    publish_alert(settings, "killed", v1)
    log = tmp_path / "retrainer.log"
    # The killed member leaves the group at its session timeout: the broker's minimum.
    settings.kafka.client = {"session.timeout.ms": "6000"}
    env = settings_env(settings)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "streamscore", "retrain"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    proc = start()
    try:
        wait_for(lambda: "retrain_started" in log.read_text(), timeout_s=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert "retrain_decision" not in log.read_text(), "killed too late: nothing to recover"
    proc = start()
    try:
        found = decisions(settings, expected=1, timeout_s=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert [d.alert_ids for d in found] == [["killed"]]
    answered = [
        v
        for v in ModelRegistry(settings.registry.path).versions("churn")
        if "killed" in v.metadata.get("retraining", {}).get("alert_ids", [])
    ]
    assert len(answered) == 1
