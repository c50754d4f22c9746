"""The scoring consumer against the real broker: the contract, dead letters, PII, pause
and resume, hot swap."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd
import pytest

from consumers.scorer import run_scorer
from core.features import FEATURES
from core.registry import ModelRegistry
from core.schemas import DeadLetterHeaders, Prediction, PredictionLog
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.invalid import ALL_KINDS, InvalidMix
from producers.messages import event_messages
from tests.integration.kafka_io import produce, produce_json, read_committed, running

pytestmark = pytest.mark.integration


def running_scorer(settings: Settings) -> AbstractContextManager[None]:
    return running(run_scorer, settings)


def events(n: int, seed: int = 3, start: int = 0) -> list[dict[str, Any]]:
    return [e for e, _ in ChurnGenerator(seed=seed).events(n, start)]


def test_valid_events_become_contract_predictions_keyed_by_customer(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    version = register_model()
    sent = events(500)
    produce_json(settings, settings.topics.events, sent)
    with running_scorer(settings):
        records = read_committed(settings, settings.topics.predictions, expected=500)
    predictions = [Prediction.model_validate_json(r.value()) for r in records]
    assert sorted(p.event_id for p in predictions) == sorted(e["event_id"] for e in sent)
    assert all(r.key().decode() == p.customer_id for r, p in zip(records, predictions, strict=True))
    assert {p.model_version for p in predictions} == {version}
    model, _ = ModelRegistry(settings.registry.path).production(settings.registry.model_name)
    by_id = {e["event_id"]: e for e in sent}
    sample = predictions[:50]
    expected = model.predict_proba(
        pd.DataFrame([by_id[p.event_id] for p in sample])[list(FEATURES)]
    )[:, 1]
    assert [p.probability for p in sample] == pytest.approx(expected.tolist(), abs=1e-9)
    for p in sample:
        assert p.prediction == int(p.probability >= 0.5)
        assert p.risk_level.value == (
            "low" if p.probability < 0.3 else "medium" if p.probability < 0.7 else "high"
        )
        assert by_id[p.event_id]["customer_id"] == p.customer_id


def test_every_kind_of_bad_input_is_dead_lettered_with_its_original_bytes(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    mix = InvalidMix(rate=1.0, seed=5, kinds=ALL_KINDS)
    messages = list(event_messages(ChurnGenerator(seed=4), 16 * len(ALL_KINDS), invalid=mix))
    bad = [m for m in messages if m.invalid is not None]
    assert {m.invalid for m in bad} == set(ALL_KINDS)
    hostile = [
        (None, b""),
        (b"k", b"\x00\x01\x02"),
        (b"k", b'{"customer_id": "c", "age": 1e400}'),
        (b"k", b"[" * 10000),
    ]
    produce(settings, settings.topics.events, [(m.key, m.value) for m in bad] + hostile)
    total = len(bad) + len(hostile)
    with running_scorer(settings):
        dlq = read_committed(settings, settings.topics.dlq, expected=total)
        predictions = read_committed(settings, settings.topics.predictions, 0, idle_s=1)
    assert len(dlq) == total
    assert predictions == []
    assert Counter(r.value() for r in dlq) == Counter(
        [m.value for m in bad] + [v for _, v in hostile]
    )
    for r in dlq:
        headers = {k: v.decode() for k, v in r.headers()}
        assert headers[DeadLetterHeaders.SOURCE_TOPIC] == settings.topics.events
        assert int(headers[DeadLetterHeaders.SOURCE_OFFSET]) >= 0
        assert headers[DeadLetterHeaders.ERROR_TYPE]
        assert headers[DeadLetterHeaders.ERROR_MESSAGE]
    error_types = {dict(r.headers())[DeadLetterHeaders.ERROR_TYPE].decode() for r in dlq}
    assert {"malformed_json", "not_utf8", "not_an_object", "missing_field"} <= error_types
    assert {"out_of_range", "wrong_type", "unknown_category", "oversized_message"} <= error_types


def test_pii_fields_never_reach_the_prediction_logs(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    canaries = []
    sent = events(200)
    for i, e in enumerate(sent):
        canary = f"CANARY-{i}-7f3a"
        canaries.append(canary)
        e.update(
            email=f"{canary}@example.com",
            Name=canary,
            profile={"address": canary, "nested": [{"SSN": canary, "phone": canary}]},
            credit_card=canary,
        )
    produce_json(settings, settings.topics.events, sent)
    with running_scorer(settings):
        logs = read_committed(settings, settings.topics.logs, expected=200)
    assert len(logs) == 200
    text = b"\n".join(r.value() for r in logs)
    assert b"CANARY" not in text
    parsed = [PredictionLog.model_validate_json(r.value()) for r in logs]
    assert {p.event for p in parsed} == {"prediction"}
    assert all(p.input is not None and "age" in p.input for p in parsed)


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_without_a_production_model_the_scorer_pauses_then_resumes_on_promotion(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    import time

    from core.kafka.local_broker import free_port

    port = free_port()
    settings.scorer.http_port = port
    settings.registry.poll_s = 0.5
    produce_json(settings, settings.topics.events, events(300))
    with running_scorer(settings):
        time.sleep(4)
        code, body = _health(port)
        assert code == 503
        assert body["status"] == "degraded"
        assert body["model_loaded"] is False
        assert read_committed(settings, settings.topics.predictions, 0, idle_s=1) == []
        version = register_model()
        records = read_committed(settings, settings.topics.predictions, expected=300)
        code, body = _health(port)
        assert code == 200
        assert body["model_version"] == version
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"streamscore_events_scored_total 300.0" in metrics
    assert len(records) == 300


def test_a_promotion_mid_stream_swaps_models_with_no_gap_and_no_duplicate(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    import time

    settings.registry.poll_s = 0.2
    settings.scorer.batch_size = 100
    v1 = register_model(seed=1)
    v2 = register_model(seed=2, promote=False)
    first, second = events(3000), events(3000, start=3000)
    produce_json(settings, settings.topics.events, first)
    with running_scorer(settings):
        read_committed(settings, settings.topics.predictions, expected=3000, idle_s=0)
        ModelRegistry(settings.registry.path).promote(
            settings.registry.model_name, v2, "production", "test swap"
        )
        time.sleep(1)
        produce_json(settings, settings.topics.events, second)
        records = read_committed(settings, settings.topics.predictions, expected=6000)
    predictions = [Prediction.model_validate_json(r.value()) for r in records]
    ids = [p.event_id for p in predictions]
    assert len(ids) == len(set(ids)) == 6000
    versions = {p.event_id: p.model_version for p in predictions}
    assert {versions[e["event_id"]] for e in first} == {v1}
    assert {versions[e["event_id"]] for e in second} == {v2}


def test_overlapped_commits_score_a_backlog_then_a_trickle_each_event_once(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    import time

    from core.kafka.processor import BatchTiming

    settings.scorer.batch_size = 200
    settings.scorer.overlap_commit = True
    register_model()
    backlog, trickle = events(4000), events(200, start=4000)
    produce_json(settings, settings.topics.events, backlog)
    timings: list[BatchTiming] = []

    def scorer(s: Settings, stop: threading.Event) -> None:
        run_scorer(s, stop, on_batch=timings.append)

    with running(scorer, settings):
        read_committed(settings, settings.topics.predictions, expected=4000, idle_s=0)
        for i in range(0, len(trickle), 10):
            produce_json(settings, settings.topics.events, trickle[i : i + 10])
            time.sleep(0.05)
        records = read_committed(settings, settings.topics.predictions, expected=4200)
    ids = [Prediction.model_validate_json(r.value()).event_id for r in records]
    assert len(ids) == len(set(ids)) == 4200
    assert set(ids) == {e["event_id"] for e in backlog + trickle}
    committed = [t for t in timings if t.committed]
    assert sum(t.records for t in committed) == 4200
    assert all(t.overlapped for t in committed)
    assert any(t.records == 200 for t in committed)
    assert any(t.records < 200 for t in committed)


def test_at_least_once_mode_scores_every_event_without_transactions(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    settings.scorer.delivery = "at-least-once"
    sent = events(1000)
    produce_json(settings, settings.topics.events, sent)
    with running_scorer(settings):
        records = read_committed(settings, settings.topics.predictions, expected=1000)
    ids = {Prediction.model_validate_json(r.value()).event_id for r in records}
    assert ids == {e["event_id"] for e in sent}
